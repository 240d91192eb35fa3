"""The build queue: enqueue, claim, heartbeat, finish, release, cancel, retry and reap.

Every status change goes through ``BuildJob.transition_to`` (a guarded update) and
records a ``BuildEvent`` in the same transaction. Workers identify themselves with
a ``worker_id``; reports from a worker that no longer holds the lease are refused
(``StaleLease``), so the lease, not the messenger, decides who builds a job.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from builds import job_metrics, live
from builds.models import BuildDependency, BuildEvent, BuildJob, default_max_attempts
from builds.notifications import input_outcomes, job_events
from builds.notifications.regressions import earlier_success
from inputs.priority import Priority
from plans.models import Plan, Target
from refinery.lib import follow_ups
from refinery.lib.backoff import retry_delay
from refinery.lib.db import fetch_prepared
from refinery.lib.leases import Lease
from refinery.lib.state_machine import IllegalTransition

logger = logging.getLogger(__name__)

Status = BuildJob.Status
# Highest priority first; then what was queued first; within one plan's batch, the job with
# the longest chain of builds waiting behind it (the critical path shortens the makespan).
CLAIM_ORDER = ("-priority", "enqueued_at", "-critical_path_ms", "id")


def _in_claim_order(job: BuildJob) -> tuple[Any, ...]:
    """CLAIM_ORDER as a sort key, for rows a statement returns in no order."""
    return (-job.priority, job.enqueued_at, -job.critical_path_ms, job.pk)


# A build job is held while leased or building; a heartbeat also stamps heartbeat_at.
BUILD_LEASE = Lease(
    BuildJob, Q(status__in=BuildJob.LEASED_STATUSES), lambda: settings.BUILD_LEASE_SEC
)
Reason = BuildJob.FailureReason


class QueueError(Exception):
    """An operation the queue refuses, with a message fit for an operator."""


@dataclass(frozen=True)
class ReapResult:
    requeued: int
    failed: int


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def _backoff(attempts: int) -> timedelta:
    return retry_delay(
        max(1, attempts),
        base_seconds=settings.RETRY_BACKOFF_BASE_SEC,
        max_seconds=settings.RETRY_BACKOFF_MAX_SEC,
    )


def _check_worker_id(worker_id: str) -> None:
    if not worker_id or len(worker_id) > 200:
        raise QueueError("worker_id must be 1 to 200 characters")


def _move(
    job: BuildJob,
    target: str,
    *,
    actor: str,
    now: datetime,
    message: str = "",
    data: dict[str, Any] | None = None,
    lease_owner_must_be: str | None = None,
    **changes: Any,
) -> BuildJob:
    """Transition ``job`` and record the event; callers hold a transaction."""
    previous = job.status
    job.transition_to(target, lease_owner_must_be=lease_owner_must_be, **changes)
    transaction.on_commit(lambda: _after_commit(job, previous, target))
    BuildEvent.objects.create(
        job=job,
        kind=BuildEvent.Kind.TRANSITION,
        from_status=previous,
        to_status=target,
        actor=actor,
        message=message,
        data=data or {},
        created_at=now,
    )
    job_events.on_transition(job, target)
    return job


def _after_commit(job: BuildJob, previous: str, target: str) -> None:
    live.job_status(job)
    try:
        job_metrics.on_transition(job, previous, target)
        if target not in BuildJob.ACTIVE:
            # Reads the inputs' plans: a build slot hands it to its background thread.
            follow_ups.soon(("input outcome", job.pk), lambda: _check_inputs(job.pk))
    except Exception:  # news and counters must never fail the report that caused them
        logger.exception("after-commit work for job %s failed", job.pk)


def _check_inputs(job_id: int) -> None:
    try:
        input_outcomes.check_job(job_id)
    except Exception:
        logger.exception("after-commit work for job %s failed", job_id)


# --- Enqueue -----------------------------------------------------------------------------


def normalize_pin(name: str, version: str) -> tuple[str, str]:
    """Canonical project name and a valid PEP 440 version, or ``QueueError`` naming the bad one."""
    canonical = canonicalize_name(name.strip())
    if not canonical or len(canonical) > 200:
        raise QueueError(f"invalid package name {name!r}")
    try:
        Version(version)
    except InvalidVersion:
        raise QueueError(f"invalid version {version!r} for {canonical}") from None
    return canonical, version.strip()


@transaction.atomic
def enqueue(
    name: str,
    version: str,
    target: Target,
    *,
    plan: Plan | None = None,
    priority: int = Priority.NORMAL,
    max_attempts: int | None = None,
    critical_path_ms: int = 0,
    actor: str = "",
    now: datetime | None = None,
) -> tuple[BuildJob, bool]:
    """Queue ``name==version`` for ``target``; returns ``(job, created)``.

    At most one active job exists per wheel and target: enqueueing one that is
    already queued returns that job, raised to the higher of the two priorities.
    """
    name, version = normalize_pin(name, version)
    now = _now(now)
    if priority not in Priority.values:
        raise QueueError(f"invalid priority {priority!r}")
    attempts_allowed = (
        max_attempts if max_attempts is not None else 1 + settings.MAX_REQUEUE_ATTEMPTS
    )
    if attempts_allowed < 1:
        raise QueueError("max_attempts must be at least 1")
    try:
        # A savepoint, so a lost race on the unique constraint leaves the outer transaction usable.
        with transaction.atomic():
            job = BuildJob.objects.create(
                name=name,
                version=version,
                target=target,
                plan=plan,
                priority=priority,
                max_attempts=attempts_allowed,
                critical_path_ms=critical_path_ms,
                next_attempt_at=now,
                enqueued_at=now,
            )
    except IntegrityError:
        return _already_active(name, version, target, priority, actor, now), False
    _enqueued_event(job, plan, priority, actor, now).save()
    return job, True


def _enqueued_event(
    job: BuildJob, plan: Plan | None, priority: int, actor: str, now: datetime
) -> BuildEvent:
    return BuildEvent(
        job=job,
        kind=BuildEvent.Kind.TRANSITION,
        from_status="",
        to_status=Status.PENDING,
        actor=actor,
        message="enqueued",
        data={"plan": plan.pk if plan else None, "priority": Priority(priority).label},
        created_at=now,
    )


@dataclass(frozen=True)
class Wanted:
    """One wheel a batch enqueue asks for, with the length of the chain behind it."""

    name: str
    version: str
    critical_path_ms: int = 0


def enqueue_many(
    wanted: list[Wanted],
    target: Target,
    *,
    plan: Plan | None = None,
    priority: int = Priority.NORMAL,
    actor: str = "",
    now: datetime | None = None,
) -> list[tuple[BuildJob, bool]]:
    """``enqueue`` for many wheels of one target at once, in the caller's transaction:
    ``(job, created)`` for each, in order. One read finds those already active, one
    insert queues the rest and one logs them (a plan's 12 nodes took 84 statements one
    by one). If another enqueue takes one of them meanwhile, each is enqueued alone."""
    now = _now(now)
    if priority not in Priority.values:
        raise QueueError(f"invalid priority {priority!r}")
    pins = [(*normalize_pin(w.name, w.version), w.critical_path_ms) for w in wanted]
    active = {
        (job.name, job.version)
        for job in BuildJob.objects.filter(
            target=target, status__in=BuildJob.ACTIVE, name__in={name for name, _, _ in pins}
        ).only("name", "version")
    }
    fresh = {(name, version) for name, version, _ in pins} - active
    new = [
        BuildJob(
            name=name,
            version=version,
            target=target,
            plan=plan,
            priority=priority,
            max_attempts=1 + settings.MAX_REQUEUE_ATTEMPTS,
            critical_path_ms=critical_path_ms,
            next_attempt_at=now,
            enqueued_at=now,
        )
        for name, version, critical_path_ms in dict.fromkeys(pins)
        if (name, version) in fresh
    ]
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the caller's usable
            created = {(job.name, job.version): job for job in BuildJob.objects.bulk_create(new)}
    except IntegrityError:
        return [
            enqueue(
                w.name,
                w.version,
                target,
                plan=plan,
                priority=priority,
                critical_path_ms=w.critical_path_ms,
                actor=actor,
                now=now,
            )
            for w in wanted
        ]
    BuildEvent.objects.bulk_create(
        _enqueued_event(job, plan, priority, actor, now) for job in created.values()
    )
    results: list[tuple[BuildJob, bool]] = []
    for name, version, _ in pins:
        job = created.pop((name, version), None)
        if job is not None:
            results.append((job, True))
        else:
            results.append((_already_active(name, version, target, priority, actor, now), False))
    return results


def _already_active(
    name: str, version: str, target: Target, priority: int, actor: str, now: datetime
) -> BuildJob:
    """The active job that won the unique constraint, raised to ``priority`` if that is
    higher (with a note on its trail)."""
    existing = (
        BuildJob.objects.select_for_update()
        .filter(name=name, version=version, target=target, status__in=BuildJob.ACTIVE)
        .first()
    )
    if existing is None:  # The active job finished between our insert and this read.
        raise QueueError(f"{name}=={version} changed while enqueueing; try again") from None
    if priority > existing.priority:
        BuildJob.objects.filter(pk=existing.pk).update(priority=priority, updated_at=now)
        BuildEvent.objects.create(
            job=existing,
            kind=BuildEvent.Kind.NOTE,
            actor=actor,
            message=f"priority raised to {Priority(priority).label}",
            created_at=now,
        )
        existing.priority = priority
    return existing


@transaction.atomic
def record_existing_wheel(
    name: str,
    version: str,
    target: Target,
    status: str,
    *,
    plan: Plan | None = None,
    actor: str = "",
    message: str = "",
    now: datetime | None = None,
) -> BuildJob:
    """Record a node whose wheel already exists (``cached`` or ``reused``) without building it."""
    if status not in (Status.CACHED, Status.REUSED):
        raise QueueError(f"status must be cached or reused, not {status!r}")
    job, created = enqueue(name, version, target, plan=plan, actor=actor, now=now)
    if not created:
        raise QueueError(f"{job.name}=={job.version} is already queued as job {job.pk}")
    return _move(job, status, actor=actor, now=_now(now), message=message)


# --- Claim ---------------------------------------------------------------------------------

# The due jobs whose build environment is ready, in claim order (CLAIM_ORDER).
_PICK_SQL = """
    SELECT c.id, c.status FROM {job} AS c
    WHERE c.status IN ({claimable})
      AND c.next_attempt_at <= %(now)s
      AND c.attempts < c.max_attempts
      {target_filter}
      -- DAG readiness: everything its build environment needs is available for the target.
      AND NOT EXISTS (
          SELECT 1 FROM {dependency} AS d
           WHERE d.job_id = c.id
             AND NOT EXISTS (
                 SELECT 1 FROM {job} AS n
                  WHERE n.target_id = c.target_id AND n.name = d.name
                    AND n.version = d.version AND n.status IN ({succeeded})))
    ORDER BY c.priority DESC, c.enqueued_at, c.critical_path_ms DESC, c.id
    LIMIT {limit}
"""
_CLAIM_SQL = (
    """
WITH picked AS ("""
    + _PICK_SQL
    + """    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE {job} AS j
       SET status = {leased}, attempts = j.attempts + 1, heartbeat_at = %(now)s, {lease}
      FROM picked
     WHERE j.id = picked.id
 RETURNING {returning}, picked.status AS previous_status
), logged AS (
    INSERT INTO {event} (job_id, kind, from_status, to_status, actor, message, data, created_at)
    SELECT id, {transition_kind}, previous_status, {leased}, %(worker)s, '',
           jsonb_build_object('attempt', attempts), %(now)s
      FROM claimed
)
SELECT {columns} FROM claimed ORDER BY priority DESC, enqueued_at, critical_path_ms DESC, id
"""
)
_JOB_FIELDS = BuildJob._meta.concrete_fields


def _sql_strings(values: Iterable[str]) -> str:
    """Status names as SQL literals: they come from the model's choices, never from input."""
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


_CLAIM_SQL_PARTS = {
    "claimable": _sql_strings(BuildJob.CLAIMABLE),
    "succeeded": _sql_strings(BuildJob.SUCCEEDED),
    "leased": _sql_strings([Status.LEASED]),
    "transition_kind": _sql_strings([BuildEvent.Kind.TRANSITION]),
    "job": BuildJob._meta.db_table,
    "event": BuildEvent._meta.db_table,
    "dependency": BuildDependency._meta.db_table,
    "returning": ", ".join(f'j."{f.column}"' for f in _JOB_FIELDS),
    "columns": ", ".join(f'"{f.column}"' for f in _JOB_FIELDS),
    "lease": Lease.SQL_ASSIGNMENTS,
}


@functools.lru_cache(maxsize=64)
def _claim_sql(limit: int, by_target: bool) -> str:
    """The claim statement for one batch size, for any target or for some: each text is
    prepared once per connection. The limit is written in, not bound, because a prepared
    statement's generic plan cannot see a bound limit and plans for a tenth of the table
    (a full scan and sort: a third of the speed at 20,000 jobs, bench/queue_claim.py)."""
    target_filter = "AND c.target_id = ANY(%(targets)s::bigint[])" if by_target else ""
    return _CLAIM_SQL.format(limit=int(limit), target_filter=target_filter, **_CLAIM_SQL_PARTS)


@functools.lru_cache(maxsize=256)
def _pick_sql(limit: int, targets: int | None) -> str:
    """The same choice for SQLite, which picks, then updates (``_claim_serialized``): one
    written statement, because the ORM's version of it (two nested ``Exists``) took most of
    a claim's time compiling the query (bench/dag_makespan.py). ``targets`` is how many
    target ids are bound (``%(target0)s`` …), None for any target."""
    target_filter = ""
    if targets is not None:
        bound = ", ".join(f"%(target{i})s" for i in range(targets))
        target_filter = f"AND c.target_id IN ({bound})"
    return _PICK_SQL.format(limit=int(limit), target_filter=target_filter, **_CLAIM_SQL_PARTS)


# Built once per database: RawQuerySet would re-derive this column-to-field mapping on
# every claim, which measured as a tenth of a claim's cost (bench/queue_claim.py).
_JOB_ATTNAMES = [f.attname for f in _JOB_FIELDS]


@functools.lru_cache(maxsize=4)
def _job_converters(vendor: str) -> list[tuple[int, list[Callable[..., Any]]]]:
    """What turns a job row's values into the fields' Python values, as a queryset would:
    the backend's (SQLite returns dates as text) and the fields' own."""
    table = BuildJob._meta.db_table
    converters = []
    for index, field in enumerate(_JOB_FIELDS):
        steps = connection.ops.get_db_converters(field.get_col(table))
        # Not in django-stubs, but every field has it (a DurationField's, on SQLite).
        steps = [*steps, *field.get_db_converters(connection)]  # type: ignore[attr-defined]
        if steps:
            converters.append((index, steps))
    return converters


def _jobs_from_rows(rows: list[tuple[Any, ...]]) -> list[BuildJob]:
    jobs = []
    converters = _job_converters(connection.vendor)
    for row in rows:
        values = list(row)
        for index, steps in converters:
            for convert in steps:
                values[index] = convert(values[index], _JOB_FIELDS[index], connection)
        jobs.append(BuildJob.from_db(connection.alias, _JOB_ATTNAMES, values))
    return jobs


def claim(
    worker_id: str,
    max_n: int = 1,
    *,
    lease_seconds: int | None = None,
    now: datetime | None = None,
    target_ids: list[int] | None = None,
) -> list[BuildJob]:
    """Lease up to ``max_n`` due jobs to ``worker_id``: highest priority first, then oldest.

    ``target_ids`` limits the claim to targets this worker can build (a local runner
    builds for its own architecture only); None takes any.

    Each claimed job becomes ``leased`` with ``attempts + 1`` and an event, all in
    one transaction (``Lease.pop``: one ``SKIP LOCKED`` statement on Postgres).
    """
    _check_worker_id(worker_id)
    if max_n < 1:
        raise QueueError("max_n must be at least 1")
    now = _now(now)

    def in_one_statement() -> list[BuildJob]:
        params: dict[str, Any] = BUILD_LEASE.sql_params(worker_id, now, lease_seconds)
        if target_ids is not None:
            params["targets"] = target_ids
        sql = _claim_sql(max_n, target_ids is not None)
        return _jobs_from_rows(fetch_prepared(sql, params))

    claimed = BUILD_LEASE.pop(
        in_one_statement,
        lambda: _claim_serialized(worker_id, max_n, now, lease_seconds, target_ids),
    )
    job_metrics.on_claim(len(claimed))
    return claimed


def _claim_serialized(
    worker_id: str, max_n: int, now: datetime, seconds: int | None, target_ids: list[int] | None
) -> list[BuildJob]:
    """Pick, take (one guarded ``UPDATE … RETURNING`` of the picked rows that are still
    claimable) and log, as three written statements: the ORM's update, re-read and bulk
    insert cost a DAG's build slot half of each claim compiling SQL (bench/dag_makespan.py).
    """
    if target_ids == []:
        return []
    adapt = connection.ops.adapt_datetimefield_value
    params: dict[str, Any] = {"now": adapt(now)}
    params.update((f"target{i}", pk) for i, pk in enumerate(target_ids or ()))
    with connection.cursor() as cursor:
        cursor.execute(_pick_sql(max_n, None if target_ids is None else len(target_ids)), params)
        previous: dict[int, str] = dict(cursor.fetchall())
        if not previous:
            return []
        lease = BUILD_LEASE.sql_params(worker_id, now, seconds)
        taken = {**params, "worker": lease["worker"], "expires": adapt(lease["expires"])}
        taken.update((f"job{i}", pk) for i, pk in enumerate(previous))
        cursor.execute(_take_sql(len(previous)), taken)
        jobs = _jobs_from_rows(cursor.fetchall())
        jobs.sort(key=_in_claim_order)
        cursor.executemany(
            _LOG_CLAIM_SQL,
            [
                (
                    job.pk,
                    previous[job.pk],
                    worker_id,
                    json.dumps({"attempt": job.attempts}),
                    params["now"],
                )
                for job in jobs
            ],
        )
    return jobs


@functools.lru_cache(maxsize=64)
def _take_sql(count: int) -> str:
    """Lease ``count`` picked jobs (``%(job0)s`` …) that are still claimable, returning
    them: the same assignments as the Postgres claim statement."""
    return _TAKE_SQL.format(ids=", ".join(f"%(job{i})s" for i in range(count)), **_CLAIM_SQL_PARTS)


_TAKE_SQL = """
    UPDATE {job}
       SET status = {leased}, attempts = attempts + 1, heartbeat_at = %(now)s, {lease}
     WHERE id IN ({ids}) AND status IN ({claimable})
 RETURNING {columns}
"""
_LOG_CLAIM_SQL = (
    f"INSERT INTO {BuildEvent._meta.db_table}"
    " (job_id, kind, from_status, to_status, actor, message, data, created_at)"
    f" VALUES (%s, {_sql_strings([BuildEvent.Kind.TRANSITION])}, %s,"
    f" {_sql_strings([Status.LEASED])}, %s, '', %s, %s)"
)


# --- Worker reports ------------------------------------------------------------------------


def _leased_job(job_id: int) -> BuildJob:
    try:
        return BuildJob.objects.get(pk=job_id)
    except BuildJob.DoesNotExist:
        raise QueueError(f"build job {job_id} does not exist") from None


@transaction.atomic
def heartbeat(
    job_id: int, worker_id: str, *, lease_seconds: int | None = None, now: datetime | None = None
) -> BuildJob:
    """Extend the lease of a job the worker still holds; ``StaleLease`` if it does not."""
    now = _now(now)
    renewed = BUILD_LEASE.renew(job_id, worker_id, now, lease_seconds, heartbeat_at=now)
    job = _leased_job(job_id)
    if not renewed:
        # Let the worker tell "lost my lease" (stop building) from "cancelled" (kill the build).
        raise QueueError(
            f"build job {job_id} is {job.status} and leased to {job.lease_owner or 'nobody'}, "
            f"not {worker_id}"
        )
    return job


def _held_or_read(job_id: int, held: BuildJob | None) -> BuildJob:
    """The job as its worker holds it (its guarded update refuses it if it changed
    meanwhile: cancelled, or leased to another), else read. A copy: a move whose
    transaction rolls back (a database outage, retried) leaves the held one as it was."""
    return copy.copy(held) if held is not None and held.pk == job_id else _leased_job(job_id)


@transaction.atomic
def start_building(
    job_id: int, worker_id: str, *, now: datetime | None = None, held: BuildJob | None = None
) -> BuildJob:
    now = _now(now)
    job = _held_or_read(job_id, held)
    return _move(
        job,
        Status.BUILDING,
        actor=worker_id,
        now=now,
        lease_owner_must_be=worker_id,
        started_at=now,
        heartbeat_at=now,
    )


@transaction.atomic
def complete(
    job_id: int,
    worker_id: str,
    *,
    message: str = "",
    now: datetime | None = None,
    held: BuildJob | None = None,
) -> BuildJob:
    now = _now(now)
    job = _held_or_read(job_id, held)
    began = job.started_at or job.heartbeat_at or now
    return _move(
        job,
        Status.BUILT,
        actor=worker_id,
        now=now,
        message=message,
        lease_owner_must_be=worker_id,
        lease_owner="",
        lease_expires_at=None,
        finished_at=now,
        duration=now - began,
        failure_reason=Reason.NONE,
        error="",
    )


@transaction.atomic
def fail(
    job_id: int,
    worker_id: str,
    *,
    reason: str,
    error: str = "",
    retryable: bool = True,
    count_attempt: bool = True,
    recipes: list[dict[str, Any]] | None = None,
    final_status: str = Status.FAILED,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> BuildJob:
    """Report a failed attempt: back to the queue with backoff while attempts remain, else final.
    ``data`` goes on the event (a repair decision's problems and candidates).

    ``count_attempt=False`` (infrastructure trouble, not the package's fault) refunds
    the attempt. ``recipes`` replace the job's recipes for the next attempt.
    ``final_status`` may be ``system_recipe_failed`` or ``skipped_known_failure``
    for failures no retry can fix.
    """
    _check_failure(reason, final_status)
    now = _now(now)
    job = _leased_job(job_id)
    attempts = job.attempts if count_attempt else max(0, job.attempts - 1)
    began = job.started_at or job.heartbeat_at or now
    common: dict[str, Any] = {
        "lease_owner": "",
        "lease_expires_at": None,
        "failure_reason": reason,
        "error": error,
        "finished_at": now,
        "duration": now - began,
        "attempts": attempts,
    }
    if recipes is not None:
        common["recipes"] = recipes
    may_retry = (
        retryable
        and final_status == Status.FAILED
        and attempts < job.max_attempts
        and (settings.REQUEUE_ON_FAILURE or not count_attempt)
    )
    if not may_retry:
        return _fail_for_good(job, worker_id, final_status, now=now, data=data, **common)
    return _retry_later(job, worker_id, now=now, data=data, **common)


def _retry_later(
    job: BuildJob, worker_id: str, *, now: datetime, data: dict[str, Any] | None, **fields: Any
) -> BuildJob:
    """Back to the queue as ``retry``, due after the backoff for its attempts."""
    delay = _backoff(fields["attempts"])
    return _move(
        job,
        Status.RETRY,
        actor=worker_id,
        now=now,
        lease_owner_must_be=worker_id,
        message=fields["error"][:500],
        data={
            "reason": fields["failure_reason"],
            "retry_in_seconds": round(delay.total_seconds(), 1),
            **(data or {}),
        },
        next_attempt_at=now + delay,
        **fields,
    )


def _check_failure(reason: str, final_status: str) -> None:
    if reason not in Reason.values or reason == Reason.NONE:
        raise QueueError(f"invalid failure reason {reason!r}")
    if final_status not in (
        Status.FAILED,
        Status.SYSTEM_RECIPE_FAILED,
        Status.SKIPPED_KNOWN_FAILURE,
    ):
        raise QueueError(f"invalid final status {final_status!r}")


def _fail_for_good(
    job: BuildJob,
    worker_id: str,
    final_status: str,
    *,
    now: datetime,
    data: dict[str, Any] | None,
    **fields: Any,
) -> BuildJob:
    """A final failure: noted as a regression when the wheel built before, and the jobs
    that needed it marked missing."""
    regressed = final_status in (Status.FAILED, Status.SYSTEM_RECIPE_FAILED)
    regressed_from = earlier_success(job) if regressed else None
    if regressed_from is not None:
        data = {**(data or {}), "regressed_from": regressed_from.pk}
    _move(
        job,
        final_status,
        actor=worker_id,
        now=now,
        lease_owner_must_be=worker_id,
        message=fields["error"][:500],
        data={"reason": fields["failure_reason"], **(data or {})},
        regressed_from=regressed_from,
        **fields,
    )
    mark_dependents_missing(job, now=now)
    return job


@transaction.atomic
def requeue_for_repair(
    job_id: int,
    worker_id: str,
    *,
    recipes: list[dict[str, Any]],
    origins: list[dict[str, Any]],
    error: str,
    data: dict[str, Any],
    now: datetime | None = None,
) -> BuildJob:
    """A failed attempt that a repair round answers: back in the queue at once with the new
    recipes. The round gets an attempt of its own (``max_attempts`` + 1), so repairs never
    use up the retries kept for infrastructure trouble; ``repair_rounds`` counts them."""
    now = _now(now)
    job = _leased_job(job_id)
    began = job.started_at or job.heartbeat_at or now
    return _move(
        job,
        Status.RETRY,
        actor=worker_id,
        now=now,
        lease_owner_must_be=worker_id,
        message=error[:500],
        data={
            "reason": Reason.MISSING_BUILD_DEPENDENCY,
            "repair_round": job.repair_rounds + 1,
            **data,
        },
        lease_owner="",
        lease_expires_at=None,
        failure_reason=Reason.MISSING_BUILD_DEPENDENCY,
        error=error,
        finished_at=now,
        duration=now - began,
        recipes=recipes,
        recipe_origins=[*job.recipe_origins, *origins],
        repair_rounds=job.repair_rounds + 1,
        max_attempts=job.max_attempts + 1,
        next_attempt_at=now,
    )


@transaction.atomic
def add_recipes(
    job: BuildJob,
    *,
    recipes: list[dict[str, Any]],
    origins: list[dict[str, Any]],
    actor: str,
    message: str,
    now: datetime | None = None,
) -> BuildJob:
    """Recipes for a job that has not started building (hints that apply up front)."""
    now = _now(now)
    changed = BuildJob.objects.filter(pk=job.pk, status=job.status).update(
        recipes=recipes, recipe_origins=[*job.recipe_origins, *origins], updated_at=now
    )
    if not changed:
        raise QueueError(f"build job {job.pk} changed meanwhile")
    BuildEvent.objects.create(
        job=job,
        kind=BuildEvent.Kind.NOTE,
        actor=actor,
        message=message[:500],
        data={"recipes": recipes, "new": origins},
        created_at=now,
    )
    job.recipes, job.recipe_origins = recipes, [*job.recipe_origins, *origins]
    return job


@transaction.atomic
def release(job_id: int, worker_id: str, *, now: datetime | None = None) -> BuildJob:
    """Give a job back unbuilt (graceful shutdown): pending again, the attempt refunded."""
    now = _now(now)
    job = _leased_job(job_id)
    return _move(
        job,
        Status.PENDING,
        actor=worker_id,
        now=now,
        message="released by worker",
        lease_owner_must_be=worker_id,
        lease_owner="",
        lease_expires_at=None,
        attempts=max(0, job.attempts - 1),
        next_attempt_at=now,
    )


# --- Operator actions ----------------------------------------------------------------------


@transaction.atomic
def cancel(job: BuildJob, *, actor: str, now: datetime | None = None) -> BuildJob:
    """Cancel an active job; a worker building it sees the cancel at its next heartbeat."""
    if job.is_final:
        raise QueueError(
            f"build job {job.pk} is already {job.status}; only active jobs can be cancelled"
        )
    now = _now(now)
    return _move(
        job,
        Status.CANCELLED,
        actor=actor,
        now=now,
        message="cancelled by operator",
        lease_owner="",
        lease_expires_at=None,
        failure_reason=Reason.CANCELLED,
        finished_at=now,
    )


@transaction.atomic
def prioritize(
    job: BuildJob, priority: int, *, actor: str, now: datetime | None = None
) -> BuildJob:
    """Change the priority of a job that still waits (pending or retry): claims order by it."""
    if priority not in Priority.values:
        raise QueueError(f"priority {priority!r} is not one of low, normal, high, critical")
    if job.status not in BuildJob.CLAIMABLE:
        raise QueueError(
            f"build job {job.pk} is {job.status}; only waiting (pending or retry) jobs "
            "can be reprioritized"
        )
    now = _now(now)
    previous = job.priority
    changed = BuildJob.objects.filter(pk=job.pk, status__in=BuildJob.CLAIMABLE).update(
        priority=priority, updated_at=now
    )
    if not changed:
        raise QueueError(f"build job {job.pk} was claimed meanwhile")
    BuildEvent.objects.create(
        job=job,
        kind=BuildEvent.Kind.NOTE,
        actor=actor,
        message=f"priority {Priority(previous).label} -> {Priority(priority).label}",
        data={"priority": {"from": previous, "to": priority}},
        created_at=now,
    )
    job.priority = priority
    return job


@transaction.atomic
def retry(
    job: BuildJob,
    *,
    actor: str,
    now: datetime | None = None,
    recipes: list[dict[str, Any]] | None = None,
    origins: list[dict[str, Any]] | None = None,
    message: str = "retried by operator",
) -> BuildJob:
    """Put a finished, unsuccessful job back in the queue with a fresh set of attempts and
    repair rounds; ``recipes`` (with their ``origins``) replace the job's."""
    if job.status in BuildJob.ACTIVE or job.status in BuildJob.SUCCEEDED:
        raise QueueError(
            f"build job {job.pk} is {job.status}; only failed, cancelled, missing or skipped "
            "jobs can be retried"
        )
    now = _now(now)
    changes: dict[str, Any] = {}
    if recipes is not None:
        changes = {"recipes": recipes, "recipe_origins": [*job.recipe_origins, *(origins or [])]}
    try:
        with transaction.atomic():
            return _move(
                job,
                Status.PENDING,
                actor=actor,
                now=now,
                message=message,
                data={"recipes": recipes} if recipes is not None else None,
                attempts=0,
                max_attempts=default_max_attempts(),
                repair_rounds=0,
                next_attempt_at=now,
                enqueued_at=now,
                regressed_from=None,
                **changes,
            )
    except IntegrityError:
        raise QueueError(
            f"{job.name}=={job.version} for {job.target} already has an active build job"
        ) from None


@transaction.atomic
def mark_missing(
    job: BuildJob, *, reason: str, actor: str, now: datetime | None = None
) -> BuildJob:
    """A dependency of this job cannot be had, so it cannot be built (yet)."""
    return _move(
        job,
        Status.MISSING,
        actor=actor,
        now=_now(now),
        message=reason,
        failure_reason=Reason.DEPENDENCY_FAILED,
        error=reason,
    )


def mark_dependents_missing(failed: BuildJob, *, now: datetime | None = None) -> int:
    """A wheel that will not be built takes every job waiting for it (and theirs, in turn)
    to ``missing``, while independent jobs of the plan keep building. Nothing is marked
    while another job for the same wheel and target is live or has produced it."""
    now = _now(now)
    marked = 0
    frontier = [(failed.name, failed.version, f"{failed.name}=={failed.version} {failed.status}")]
    while frontier:
        name, version, why = frontier.pop()
        still_possible = BuildJob.objects.filter(
            target_id=failed.target_id,
            name=name,
            version=version,
            status__in=[*BuildJob.ACTIVE, *BuildJob.SUCCEEDED],
        ).exists()
        if still_possible:
            continue
        waiting = BuildJob.objects.filter(
            target_id=failed.target_id,
            status__in=BuildJob.CLAIMABLE,
            needs__name=name,
            needs__version=version,
        ).distinct()
        for dependent in waiting:
            reason = f"needs {name}=={version}, which cannot be had ({why})"
            mark_missing(dependent, reason=reason, actor="queue", now=now)
            frontier.append(
                (
                    dependent.name,
                    dependent.version,
                    f"{dependent.name}=={dependent.version} missing",
                )
            )
            marked += 1
    return marked


def reap_expired_leases(
    *, now: datetime | None = None, job_ids: list[int] | None = None
) -> ReapResult:
    """Return jobs whose worker stopped heartbeating to the queue, or fail them when spent.

    The attempt the vanished worker used stays counted. ``job_ids`` limits the
    sweep (the admin's "requeue expired" on a selection).
    """
    now = _now(now)
    expired = BUILD_LEASE.expired(now)
    if job_ids is not None:
        expired &= Q(pk__in=job_ids)
    result = _reap(expired, now, lambda job: _expired_message(job), gone=False)
    if result.requeued or result.failed:
        logger.info(
            "reaper: %d expired build leases requeued, %d failed", result.requeued, result.failed
        )
    return result


def reclaim_from_dead_workers(
    *, now: datetime | None = None, leftovers: Callable[[int], str] | None = None
) -> ReapResult:
    """Jobs leased to a worker of this host whose process is gone (killed, crashed, or a
    cluster restarted): back in the queue at once, not after their lease runs out.
    ``leftovers`` stops what the dead build left running (its processes, its container)
    before the job can be claimed again, and says what it stopped."""
    now = _now(now)
    dead = BUILD_LEASE.dead_owners()
    if not dead:
        return ReapResult(requeued=0, failed=0)
    result = _reap(
        Q(lease_owner__in=dead),
        now,
        lambda job: _gone_message(job, leftovers),
        gone=True,
    )
    logger.warning(
        "reclaimed %d job(s) from dead worker(s) %s (%d failed: no attempts left)",
        result.requeued,
        ", ".join(sorted(dead)),
        result.failed,
    )
    return result


def _gone_message(job: BuildJob, leftovers: Callable[[int], str] | None) -> str:
    message = f"worker {job.lease_owner} is gone (its process exited)"
    cleaned = leftovers(job.pk) if leftovers is not None else ""
    return f"{message}; left behind: {cleaned}" if cleaned else message


def _expired_message(job: BuildJob) -> str:
    return f"lease of {job.lease_owner} expired at {job.lease_expires_at:%Y-%m-%d %H:%M:%S}Z"


def _reap(
    condition: Q,
    now: datetime,
    message_for: Callable[[BuildJob], str],
    *,
    gone: bool,
) -> ReapResult:
    """Requeue (or fail, when spent) the leased jobs that meet ``condition``. A worker known
    to be gone is retried at once; one that only went quiet waits the usual backoff (it may
    be a network hiccup, not a crash)."""
    counts = {"requeued": 0, "failed": 0}

    def take_back(job: BuildJob) -> None:
        owner = job.lease_owner
        message = message_for(job)
        common: dict[str, Any] = {
            "lease_owner": "",
            "lease_expires_at": None,
            "failure_reason": Reason.LEASE_EXPIRED,
            "error": message,
        }
        data = {"worker": owner, "attempt": job.attempts, "worker_gone": gone}
        if job.attempts < job.max_attempts:
            delay = timedelta(0) if gone else _backoff(job.attempts)
            _move(
                job,
                Status.RETRY,
                actor="reaper",
                now=now,
                message=message,
                data=data,
                next_attempt_at=now + delay,
                **common,
            )
            counts["requeued"] += 1
        else:
            _move(
                job,
                Status.FAILED,
                actor="reaper",
                now=now,
                message=f"{message}; no attempts left ({job.attempts}/{job.max_attempts})",
                data=data,
                finished_at=now,
                **common,
            )
            mark_dependents_missing(job, now=now)
            counts["failed"] += 1

    BUILD_LEASE.take_back(condition, take_back)
    return ReapResult(**counts)


def waiting_jobs() -> QuerySet[BuildJob]:
    """Jobs waiting to be claimed, in claim order (due or not, ready or not)."""
    return BuildJob.objects.filter(status__in=BuildJob.CLAIMABLE).order_by(*CLAIM_ORDER)


def clear_waiting(*, actor: str, now: datetime | None = None) -> int:
    """Cancel every job waiting in the queue (``pending`` or ``retry``); jobs being built are
    left to finish. Each cancel is recorded in the job's timeline, and can be retried."""
    cleared = 0
    for job in waiting_jobs():
        try:
            cancel(job, actor=actor, now=now)
        except (QueueError, IllegalTransition):
            continue  # claimed or changed meanwhile
        cleared += 1
    return cleared
