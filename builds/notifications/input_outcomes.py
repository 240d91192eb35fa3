"""An input's outcome: built once every node of its current plan has its wheel, failed once
every node is final and some has none. Told once per input and plan (``dedupe_key``),
checked after each job's final status commits (so two workers finishing an input's last
two jobs at once cannot both miss it) and when an input's builds are queued."""

from __future__ import annotations

from collections.abc import Collection

from builds.models import BuildJob, Subscription
from builds.notifications import event_types, outbox
from builds.notifications.payloads import input_data
from inputs.models import PendingInput
from plans.models import PlanInput

_OUTCOMES = (event_types.INPUT_BUILT, event_types.INPUT_FAILED)
_BUILDING = (PendingInput.Status.QUEUED, PendingInput.Status.BUILD_QUEUED)


def _anyone_listens() -> bool:
    return any(
        event in sub.events
        for sub in Subscription.objects.filter(active=True)
        for event in _OUTCOMES
    )


def check_job(job_id: int) -> None:
    """After a job's final status committed: the inputs whose current plan holds it."""
    check_jobs([job_id])


def check_jobs(job_ids: Collection[int]) -> None:
    """The inputs whose current plan holds any of these jobs (those final), each told
    once: subscriptions and plans read once for all of them."""
    jobs = [job for job in BuildJob.objects.filter(pk__in=job_ids) if job.is_final]
    if not jobs or not _anyone_listens():
        return
    pins = {(job.target_id, job.name, job.version) for job in jobs}
    links = PlanInput.objects.filter(
        status=PlanInput.Status.CURRENT,
        plan__target_id__in={target_id for target_id, _, _ in pins},
        input__status__in=_BUILDING,
    ).select_related("plan", "input", "plan__target")
    for link in links:
        target_id = link.plan.target_id
        if any((target_id, n["name"], n["version"]) in pins for n in link.plan.nodes()):
            _tell(link)


def check_input(input_id: int) -> None:
    """After an input's builds were queued (all of them may have been there already)."""
    if not _anyone_listens():
        return
    link = (
        PlanInput.objects.filter(
            status=PlanInput.Status.CURRENT, input_id=input_id, input__status__in=_BUILDING
        )
        .select_related("plan", "input", "plan__target")
        .first()
    )
    if link is not None:
        _tell(link)


def _tell(link: PlanInput) -> None:
    plan = link.plan
    keys = {(node["name"], node["version"]) for node in plan.nodes()}
    latest: dict[tuple[str, str], BuildJob] = {}
    rows = BuildJob.objects.filter(
        target_id=plan.target_id, name__in={name for name, _ in keys}
    ).order_by("enqueued_at", "id")
    for job in rows:
        if (job.name, job.version) in keys:
            latest[(job.name, job.version)] = job
    jobs = list(latest.values())
    if len(jobs) < len(keys) or any(not job.is_final for job in jobs):
        return
    good = all(job.status in BuildJob.SUCCEEDED for job in jobs)
    event = event_types.INPUT_BUILT if good else event_types.INPUT_FAILED
    outbox.record(
        event,
        lambda: input_data(link.input, plan, sorted(jobs, key=lambda j: (j.name, j.version))),
        target_id=plan.target_id,
        packages={name for name, _ in keys},
        dedupe_key=f"{event}:{link.input_id}:{plan.pk}",
    )
