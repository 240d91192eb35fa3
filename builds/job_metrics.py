"""Counters for the build queue, recorded once a transition has committed."""

from __future__ import annotations

from functools import lru_cache

from builds.models import BuildJob
from plans.models import Target
from refinery.lib.metrics import BUILD_DURATION, BUILDS, CLAIMS, REGRESSIONS, REPAIR_ROUNDS

Status = BuildJob.Status
# An attempt ends when a job holding a lease goes anywhere but building (its container
# started) or pending (released on shutdown, the attempt refunded).
_NOT_AN_END = (Status.BUILDING, Status.PENDING)


@lru_cache(maxsize=256)
def target_label(target_id: int) -> str:
    """Targets never change once made, so their names are looked up once per process."""
    target = Target.objects.filter(pk=target_id).first()
    return str(target) if target is not None else str(target_id)


def on_transition(job: BuildJob, previous: str, target: str) -> None:
    if previous not in BuildJob.LEASED_STATUSES or target in _NOT_AN_END:
        return
    label = target_label(job.target_id)
    BUILDS.labels(target, job.failure_reason or "", label).inc()
    if job.duration is not None and previous == Status.BUILDING:
        BUILD_DURATION.labels(label).observe(job.duration.total_seconds())
    if target == Status.BUILT and job.repair_rounds:
        REPAIR_ROUNDS.labels("succeeded").inc()
    if target in (Status.FAILED, Status.SYSTEM_RECIPE_FAILED) and job.regressed_from_id:
        REGRESSIONS.labels(label).inc()


def on_claim(claimed: int) -> None:
    if claimed:
        CLAIMS.labels("claimed").inc(claimed)
    else:
        CLAIMS.labels("empty").inc()
