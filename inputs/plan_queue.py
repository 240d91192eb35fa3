"""The plan queue: inputs waiting to be planned, popped by plan workers under a lease.

An input in ``planning`` with no ``lease_owner`` waits in the queue; popping it
sets the lease. The planner reports back with ``mark_planned`` or
``mark_planning_failed``; an expired lease puts the input back in the queue
(attempt counted) or fails it once ``PLAN_MAX_ATTEMPTS`` are spent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, F, Min, Q, QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from inputs.models import InputEvent, PendingInput, record_lease_events
from inputs.strategy import STRATEGIES
from refinery.lib.leases import Lease
from refinery.lib.queue_stats import QueueStats
from refinery.lib.state_machine import IllegalTransition

logger = logging.getLogger(__name__)

Status = PendingInput.Status
REPLANNABLE = (Status.PLANNED, Status.QUEUED, Status.BUILD_QUEUED, Status.FAILED)
# An input is held while planning with a planner named (planning with none: it waits).
PLAN_LEASE = Lease(
    PendingInput, Q(status=Status.PLANNING) & ~Q(lease_owner=""), lambda: settings.PLAN_LEASE_SEC
)


class PlanQueueError(Exception):
    """An operation the plan queue refuses, with a message fit for an operator."""


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def get_input(input_id: int) -> PendingInput:
    try:
        return PendingInput.objects.get(pk=input_id)
    except PendingInput.DoesNotExist:
        raise PlanQueueError(f"pending input {input_id} does not exist") from None


def _dispatch_local_planning(pending_id: int) -> None:
    """After commit, ask the local cluster to plan this input (by task path: plans is
    downstream of inputs)."""
    if settings.LOCAL_PLANNING:
        transaction.on_commit(
            lambda: async_task(
                "plans.tasks.plan_input", pending_id, task_name=f"plan input {pending_id}"
            )
        )


@transaction.atomic
def enqueue_plan(
    pending: PendingInput, *, now: datetime | None = None, dispatch: bool = True
) -> PendingInput:
    """Put a freshly uploaded input in the plan queue (pending -> planning); ``dispatch``
    False leaves it to a caller that plans it in the foreground (``manage.py refine``)."""
    if pending.status != Status.PENDING:
        verb = "replan it" if pending.status in REPLANNABLE else "wait for it to finish"
        raise PlanQueueError(
            f"pending input {pending.pk} is {pending.status}, not pending; {verb} instead"
        )
    pending.transition_to(Status.PLANNING, plan_queued_at=_now(now), plan_attempts=0, error="")
    if dispatch:
        _dispatch_local_planning(pending.pk)
    return pending


@transaction.atomic
def replan(
    pending: PendingInput,
    *,
    now: datetime | None = None,
    dispatch: bool = True,
    strategy: str | None = None,
) -> PendingInput:
    """Queue an input that was planned (or failed) for a new plan version; ``strategy``
    (pinned or eager) replaces the one it was uploaded with."""
    if pending.status not in REPLANNABLE:
        raise PlanQueueError(
            f"pending input {pending.pk} is {pending.status}; only planned, queued, "
            "build_queued or failed inputs can be replanned"
        )
    changes: dict[str, Any] = {}
    if strategy is not None:
        if strategy not in STRATEGIES:
            raise PlanQueueError(f"strategy {strategy!r} is not one of: {', '.join(STRATEGIES)}")
        changes["parsed"] = {**(pending.parsed or {}), "strategy": strategy}
    pending.transition_to(
        Status.PLANNING,
        plan_queued_at=_now(now),
        plan_attempts=0,
        error="",
        plan_started_at=None,
        plan_finished_at=None,
        **changes,
    )
    if dispatch:
        _dispatch_local_planning(pending.pk)
    return pending


def queue_for_planning(pending: PendingInput, *, dispatch: bool = True) -> PendingInput:
    """An operator's "plan this": a pending input's first plan, or a new plan version of a
    planned or failed one. ``dispatch`` False leaves it to a caller that plans it in the
    foreground."""
    if pending.status == Status.PENDING:
        return enqueue_plan(pending, dispatch=dispatch)
    return replan(pending, dispatch=dispatch)


# The lease and its event in one statement, as the build queue's claim does.
_POP_SQL = """
WITH picked AS (
    SELECT id FROM {table}
    WHERE status = '{planning}' AND lease_owner = ''
    ORDER BY priority DESC, plan_queued_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE {table} AS t
       SET plan_started_at = %(now)s, plan_attempts = t.plan_attempts + 1, {lease}
      FROM picked
     WHERE t.id = picked.id
 RETURNING t.*
), logged AS (
    INSERT INTO {event} (input_id, kind, from_status, to_status, actor, message, data, created_at)
    SELECT id, '{leased}', status, status, %(worker)s, '',
           jsonb_build_object('attempt', plan_attempts), %(now)s
      FROM leased
)
SELECT * FROM leased
"""


def pop_for_planning(
    worker_id: str, max_n: int = 1, *, lease_seconds: int | None = None, now: datetime | None = None
) -> list[PendingInput]:
    """Lease up to ``max_n`` queued inputs to a plan worker, highest priority then oldest first."""
    if not worker_id or len(worker_id) > 200:
        raise PlanQueueError("worker_id must be 1 to 200 characters")
    if max_n < 1:
        raise PlanQueueError("max must be at least 1")
    now = _now(now)

    def in_one_statement() -> list[PendingInput]:
        sql = _POP_SQL.format(
            table=PendingInput._meta.db_table,
            event=InputEvent._meta.db_table,
            planning=Status.PLANNING.value,
            leased=InputEvent.Kind.LEASED.value,
            lease=Lease.SQL_ASSIGNMENTS,
        )
        params = {"limit": max_n, **PLAN_LEASE.sql_params(worker_id, now, lease_seconds)}
        popped = list(PendingInput.objects.raw(sql, params))
        return sorted(popped, key=lambda p: (-p.priority, p.plan_queued_at or now, p.pk))

    def serialized() -> list[PendingInput]:
        ids = list(waiting_for_planning().values_list("id", flat=True)[:max_n])
        PendingInput.objects.filter(id__in=ids, lease_owner="").update(
            plan_started_at=now,
            plan_attempts=F("plan_attempts") + 1,
            **PLAN_LEASE.taken_by(worker_id, now, lease_seconds),
        )
        record_lease_events(ids, InputEvent.Kind.LEASED, actor=worker_id, at=now)
        return list(waiting_order(PendingInput.objects.filter(id__in=ids)))

    return PLAN_LEASE.pop(in_one_statement, serialized)


@transaction.atomic
def claim_for_planning(
    pending_id: int,
    worker_id: str,
    *,
    lease_seconds: int | None = None,
    now: datetime | None = None,
) -> PendingInput | None:
    """Lease one queued input to ``worker_id``; None when it is not waiting (safe to repeat)."""
    now = _now(now)
    updated = PendingInput.objects.filter(
        pk=pending_id, status=Status.PLANNING, lease_owner=""
    ).update(
        plan_started_at=now,
        plan_attempts=F("plan_attempts") + 1,
        **PLAN_LEASE.taken_by(worker_id, now, lease_seconds),
    )
    if updated != 1:
        return None
    record_lease_events([pending_id], InputEvent.Kind.LEASED, actor=worker_id, at=now)
    return get_input(pending_id)


def _held(pending_id: int, worker_id: str) -> PendingInput:
    pending = get_input(pending_id)
    if pending.status != Status.PLANNING or pending.lease_owner != worker_id:
        raise PlanQueueError(
            f"pending input {pending_id} is {pending.status} and leased to "
            f"{pending.lease_owner or 'nobody'}, not {worker_id}"
        )
    return pending


@transaction.atomic
def heartbeat_planning(
    pending_id: int,
    worker_id: str,
    *,
    lease_seconds: int | None = None,
    now: datetime | None = None,
) -> PendingInput:
    if not PLAN_LEASE.renew(pending_id, worker_id, _now(now), lease_seconds):
        _held(pending_id, worker_id)  # Raises with the current owner and status.
    return get_input(pending_id)


@transaction.atomic
def mark_planned(pending_id: int, worker_id: str, *, now: datetime | None = None) -> PendingInput:
    """The plan worker saved a plan for this input: planning -> planned, lease released."""
    pending = _held(pending_id, worker_id)
    pending.transition_to(
        Status.PLANNED,
        actor=worker_id,
        lease_owner="",
        lease_expires_at=None,
        plan_finished_at=_now(now),
        error="",
    )
    return pending


@transaction.atomic
def mark_planning_failed(
    pending_id: int, worker_id: str, error: str, *, now: datetime | None = None
) -> PendingInput:
    """Planning failed for a reason a retry cannot fix (a conflict, an unknown package)."""
    pending = _held(pending_id, worker_id)
    pending.transition_to(
        Status.FAILED,
        actor=worker_id,
        lease_owner="",
        lease_expires_at=None,
        plan_finished_at=_now(now),
        error=error,
    )
    return pending


@transaction.atomic
def release_planning(
    pending_id: int, worker_id: str, *, now: datetime | None = None, dispatch: bool = False
) -> PendingInput:
    """Give an input back to the queue unplanned (worker shutdown, a database outage); the
    attempt is refunded. ``dispatch`` asks the local cluster to plan it again at once."""
    pending = _held(pending_id, worker_id)
    PendingInput.objects.filter(pk=pending.pk, lease_owner=worker_id).update(
        lease_owner="",
        lease_expires_at=None,
        plan_started_at=None,
        plan_attempts=F("plan_attempts") - 1,
        updated_at=_now(now),
    )
    record_lease_events(
        [pending.pk],
        InputEvent.Kind.RELEASED,
        actor=worker_id,
        message="handed back unplanned; the attempt is refunded",
        at=_now(now),
    )
    pending.refresh_from_db()
    if dispatch:
        _dispatch_local_planning(pending.pk)
    return pending


def reap_expired_plan_leases(*, now: datetime | None = None) -> tuple[int, int]:
    """Requeue inputs whose plan worker vanished, fail those out of attempts; (requeued, failed)."""
    now = _now(now)
    requeued, failed = _requeue_plans(
        PLAN_LEASE.expired(now), now, lambda owner: f"plan worker {owner} lost its lease"
    )
    if requeued or failed:
        logger.info("reaper: %d expired plan leases requeued, %d failed", requeued, failed)
    return requeued, failed


def reclaim_plans_from_dead_workers(*, now: datetime | None = None) -> tuple[int, int]:
    """Inputs being planned by a worker of this host whose process is gone (killed, or its
    cluster restarted): back in the plan queue at once, not after PLAN_LEASE_SEC."""
    now = _now(now)
    dead = PLAN_LEASE.dead_owners()
    if not dead:
        return 0, 0
    requeued, failed = _requeue_plans(
        Q(lease_owner__in=dead),
        now,
        lambda owner: f"plan worker {owner} is gone (its process exited)",
    )
    logger.warning(
        "reclaimed %d input(s) being planned by dead worker(s) %s (%d failed: no attempts left)",
        requeued,
        ", ".join(sorted(dead)),
        failed,
    )
    return requeued, failed


def _requeue_plans(
    condition: Q, now: datetime, message_for: Callable[[str], str]
) -> tuple[int, int]:
    counts = {"requeued": 0, "failed": 0}

    def take_back(pending: PendingInput) -> None:
        message = message_for(pending.lease_owner)
        if pending.plan_attempts < settings.PLAN_MAX_ATTEMPTS:
            PendingInput.objects.filter(pk=pending.pk).update(
                lease_owner="", lease_expires_at=None, error=message, updated_at=now
            )
            record_lease_events(
                [pending.pk], InputEvent.Kind.RELEASED, actor="reaper", message=message, at=now
            )
            counts["requeued"] += 1
        else:
            pending.transition_to(
                Status.FAILED,
                actor="reaper",
                lease_owner="",
                lease_expires_at=None,
                plan_finished_at=now,
                error=f"{message}; no attempts left ({pending.plan_attempts})",
            )
            counts["failed"] += 1

    PLAN_LEASE.take_back(condition, take_back)
    return counts["requeued"], counts["failed"]


def plan_queue_stats(*, now: datetime | None = None) -> QueueStats:
    now = _now(now)
    since = now - timedelta(hours=24)
    depth = dict(PendingInput.objects.values_list("status").annotate(n=Count("id")).order_by())
    aggregates = PendingInput.objects.aggregate(
        waiting=Count("id", filter=Q(status=Status.PLANNING, lease_owner="")),
        oldest=Min("plan_queued_at", filter=Q(status=Status.PLANNING, lease_owner="")),
        leases=Count("id", filter=Q(status=Status.PLANNING, lease_expires_at__gte=now)),
        succeeded=Count(
            "id",
            filter=Q(plan_finished_at__gte=since)
            & Q(status__in=[Status.PLANNED, Status.QUEUED, Status.BUILD_QUEUED]),
        ),
        failed=Count("id", filter=Q(plan_finished_at__gte=since, status=Status.FAILED)),
        average=Avg(
            F("plan_finished_at") - F("plan_started_at"),
            filter=Q(plan_finished_at__gte=since, plan_started_at__isnull=False),
        ),
    )
    return QueueStats.from_aggregates(
        "plan", statuses=Status.values, depth=depth, aggregates=aggregates, now=now
    )


def waiting_order(inputs: QuerySet[PendingInput]) -> QuerySet[PendingInput]:
    return inputs.order_by("-priority", "plan_queued_at", "id")


def waiting_for_planning() -> QuerySet[PendingInput]:
    """Inputs in the plan queue that no worker holds yet, in the order they will be popped."""
    return waiting_order(PendingInput.objects.filter(status=Status.PLANNING, lease_owner=""))


def clear_plan_queue(*, actor: str, now: datetime | None = None) -> int:
    """Take every waiting input out of the plan queue: each becomes ``failed`` with the
    reason, so it stays visible and can be queued again (enqueue-plan). Inputs a worker is
    planning right now are left to finish."""
    now = _now(now)
    cleared = 0
    for pending in waiting_for_planning():
        try:
            # Guarded on the empty lease: a worker may pop it between listing and update.
            pending.transition_to(
                Status.FAILED,
                extra_filter={"lease_owner": ""},
                error=f"removed from the plan queue by {actor}",
                plan_finished_at=now,
            )
        except IllegalTransition:
            continue  # popped or changed meanwhile: the worker's outcome stands
        cleared += 1
    return cleared
