"""django-q2 task entry points for the build queue. Tasks take ids only and are idempotent."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django_q.tasks import async_task

from builds import follow_up_journal, plan_builds, repairs
from builds.models import Artifact
from builds.orphans import stop_leftovers
from builds.queue import reap_expired_leases as reap_build_leases
from builds.queue import reclaim_from_dead_workers
from builds.reproduce import ReproduceError, reproduce
from builds.runners.configured import buildable_arches, configured_runner
from builds.worker import LocalBuildQueue, drain
from inputs.plan_queue import reap_expired_plan_leases
from plans.models import Plan
from refinery import runtime_settings
from refinery.lib.host_lock import host_lock
from refinery.lib.shutdown import shutdown_requested_since
from refinery.lib.worker_ids import local_worker_id

logger = logging.getLogger(__name__)


def reap_expired_leases() -> str:
    """Scheduled every REAPER_INTERVAL_SEC: requeue work whose worker stopped heartbeating,
    and redo what a killed drain's follow-up threads had not done yet."""
    builds = reap_build_leases()
    plans_requeued, plans_failed = reap_expired_plan_leases()
    redone = follow_up_journal.redo_lost_follow_ups()
    return (
        f"builds: {builds.requeued} requeued, {builds.failed} failed; "
        f"plans: {plans_requeued} requeued, {plans_failed} failed; follow-ups: {redone}"
    )


def enqueue_plan_builds(plan_id: int) -> str:
    """AUTO_BUILD: create the build jobs of a freshly saved plan (repeat-safe)."""
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        return f"plan {plan_id} no longer exists"
    summary = plan_builds.enqueue_plan_builds(plan, actor="auto-build")
    if summary.enqueued:
        async_task("builds.tasks.drain_builds", task_name=f"build plan {plan_id}")
    return f"plan {plan_id}: {summary}"


def drain_builds() -> str:
    """The cluster's build loop, one claim round per task so no task outlives q2's timeout;
    it queues itself again while there was work. One loop per host (a file lock), so
    BUILD_POOL_SIZE caps this host's builds however many q2 workers pick the task up."""
    with host_lock("drain-builds") as held:
        if not held:
            return "a drain loop is already running on this host"
        runner = configured_runner()
        # A killed worker's builds go again now, not in minutes, its leftovers stopped first.
        reclaim_from_dead_workers(leftovers=stop_leftovers)
        worker_id = local_worker_id("q2")
        stop = threading.Event()
        with _stopped_on_shutdown(stop):
            count = drain(
                LocalBuildQueue(arches=buildable_arches(runner)),
                runner,
                worker_id,
                pool_size=runtime_settings.value("build_pool_size"),
                once=True,
                stop=stop,
            )
    if count:
        async_task("builds.tasks.drain_builds", task_name="drain builds")
    return f"{count} build job(s) processed"


@contextmanager
def _stopped_on_shutdown(stop: threading.Event) -> Iterator[None]:
    """While this task drains, the cluster shutting down (``serve`` marks it before it
    signals the cluster, which would otherwise wait for every build to end) gives running
    builds SHUTDOWN_GRACE_SEC to finish, then stops and hands them back, attempt refunded,
    instead of leaving them ``building`` when the cluster is killed."""
    started = time.time()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            if shutdown_requested_since(started):
                logger.warning(
                    "shutting down: running builds get %s s", settings.SHUTDOWN_GRACE_SEC
                )
                if not done.wait(settings.SHUTDOWN_GRACE_SEC):
                    stop.set()
                return

    watcher = threading.Thread(target=watch, daemon=True, name="shutdown-watch")
    watcher.start()
    try:
        yield
    finally:
        done.set()


def requeue_for_hint(hint_id: int) -> str:
    """Failed jobs a new or changed hint would have helped, back in the queue (safe twice:
    a job re-queued once is no longer failed)."""
    requeued = repairs.requeue_for_hint(hint_id)
    return f"hint {hint_id}: re-queued {len(requeued)} failed job(s)"


def reproduce_artifact(artifact_id: int) -> str:
    """Rebuild an artifact from its provenance and record whether the bytes are the same."""
    artifact = Artifact.objects.filter(pk=artifact_id).select_related("target").first()
    if artifact is None:
        return f"artifact {artifact_id} no longer exists"
    try:
        verdict = reproduce(artifact)
    except ReproduceError as exc:
        return str(exc)
    return f"{artifact.filename}: reproducible={verdict.reproducible} ({verdict.detail})"
