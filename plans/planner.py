"""The planner: turn a queued input into a saved plan (or a clear failure) for its target."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_q.tasks import async_task
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from inputs.format_control import FormatControl
from inputs.models import PendingInput
from inputs.overrides import merge_overrides
from inputs.plan_queue import (
    PlanQueueError,
    claim_for_planning,
    get_input,
    heartbeat_planning,
    mark_planned,
    mark_planning_failed,
    queue_for_planning,
    release_planning,
)
from inputs.target_env import MarkerError, TargetEnvironment, TargetError
from plans.dag import PlanError, build_plan_dag, parse_overrides
from plans.index_client import IndexClient, IndexFetchError
from plans.models import Plan, PlanInput
from plans.targets import target_row
from refinery import runtime_settings
from refinery.lib.db_outage import TRANSIENT, outlasting_outages
from refinery.lib.metrics import PLAN_DURATION

logger = logging.getLogger(__name__)
_HEARTBEAT_EVERY_SEC = 30


def make_index_client() -> IndexClient:
    return IndexClient(
        [settings.INDEX_URL, *settings.EXTRA_INDEX_URL],
        settings.INDEX_CACHE_DIR,
        ttl=settings.INDEX_CACHE_TTL_SEC,
        workers=settings.INDEX_WORKERS,
        ca_bundle=settings.INDEX_CA_BUNDLE,
    )


@dataclass
class PlanRequest:
    """Everything a plan is made from; also what its snapshot records."""

    requirements: list[dict[str, Any]]
    python_version: str
    platform_tag: str
    strategy: str
    overrides: dict[str, Any] = field(default_factory=dict)
    preferred: dict[str, str] = field(default_factory=dict)
    max_deps: int | None = None
    # pip's --no-binary / --only-binary ({"no_binary": [...], "only_binary": [...]}).
    format_control: dict[str, list[str]] = field(default_factory=dict)


def compute_plan(
    request: PlanRequest, client: IndexClient, progress: Callable[[str], None] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Resolve ``request`` into ``(dag_json, snapshot)``.

    Raises ``PlanError`` (the requirements cannot be met) or ``IndexFetchError`` (network)."""
    try:
        env = TargetEnvironment(request.python_version, request.platform_tag)
    except TargetError as exc:
        raise PlanError(str(exc)) from None
    requirements, hashes = _for_target(request.requirements, env)
    if not requirements:
        raise PlanError(f"no requirement in the file applies to {env}")
    overrides = parse_overrides(request.overrides)
    formats = FormatControl.from_json(request.format_control)
    overrides = dataclasses.replace(overrides, hashes=hashes, formats=formats)
    preferred = {}
    if request.strategy == Plan.Strategy.PINNED:
        preferred = {canonicalize_name(n): Version(v) for n, v in request.preferred.items()}
    started = time.monotonic()
    dag = build_plan_dag(
        requirements,
        client,
        env,
        overrides=overrides,
        preferred=preferred,
        max_deps=request.max_deps,
        progress=progress,
    )
    dag_json = dag.as_json()
    actions = [node["action"] for node in dag_json["nodes"]]
    snapshot = {
        "requirements": request.requirements,
        "python_version": request.python_version,
        "python_full_version": env.python_full_version,
        "platform_tag": request.platform_tag,
        "strategy": request.strategy,
        "overrides": request.overrides,
        "preferred_versions": request.preferred,
        "index_url": client.index_urls[0],
        "extra_index_urls": client.index_urls[1:],
        "max_deps": request.max_deps,
        "format_control": formats.as_json(),
        "planned_at": timezone.now().isoformat(),
        "seconds": round(time.monotonic() - started, 3),
        "counts": {action: actions.count(action) for action in ("build", "reuse", "cached")},
    }
    return dag_json, snapshot


def _for_target(
    items: list[dict[str, Any]], env: TargetEnvironment
) -> tuple[list[Requirement], dict[NormalizedName, frozenset[str]]]:
    """The stored requirements whose markers hold for the target (markers dropped), and the
    hashes each name is pinned to."""
    requirements: list[Requirement] = []
    hashes: dict[NormalizedName, frozenset[str]] = {}
    for item in items:
        requirement = Requirement(item["requirement"])
        try:
            if not env.evaluate(requirement.marker):
                continue  # markers are the target's, e.g. platform_machine == "s390x"
        except MarkerError as exc:
            raise PlanError(f"line {item.get('line', '?')}: {exc}") from None
        requirement.marker = None
        requirements.append(requirement)
        if item.get("hashes"):
            name = canonicalize_name(requirement.name)
            hashes[name] = hashes.get(name, frozenset()) | frozenset(item["hashes"])
    return requirements, hashes


def request_for(pending: PendingInput) -> PlanRequest:
    """The plan request of an input, with the previous plan's versions preferred when pinned."""
    parsed = pending.parsed or {}
    strategy = parsed.get("strategy") or runtime_settings.value("upgrade_strategy")
    previous = (
        PlanInput.objects.filter(input=pending, status=PlanInput.Status.CURRENT)
        .select_related("plan")
        .first()
    )
    preferred: dict[str, str] = {}
    if previous is not None:
        preferred = {
            node["name"]: node["version"]
            for node in previous.plan.nodes()
            if "runtime" in node.get("roles", ["runtime"])
        }
    return PlanRequest(
        requirements=list(parsed.get("requirements", [])),
        python_version=pending.python_version,
        platform_tag=pending.platform_tag,
        strategy=strategy,
        overrides=merge_overrides(settings.PLAN_OVERRIDES_JSON, parsed.get("overrides") or {}),
        preferred=preferred,
        max_deps=settings.MAX_DEPS,
        format_control=parsed.get("format_control") or {},
    )


def plan_input(
    pending_id: int,
    worker_id: str,
    *,
    client: IndexClient | None = None,
    progress: Callable[[str], None] | None = None,
    auto_build: bool | None = None,
) -> Plan | None:
    """Plan an input this worker holds the lease of; failures are recorded on the input.

    A database outage in the middle is neither the input's failure nor a reason to keep its
    lease: the plan is saved once the database is back, or the input is handed back to the
    queue (its attempt refunded) to be planned again at once."""
    what = f"planning input {pending_id}"
    pending = outlasting_outages(lambda: get_input(pending_id), what=what)
    last_beat = time.monotonic()

    def report(message: str) -> None:
        nonlocal last_beat
        if progress is not None:
            progress(message)
        if time.monotonic() - last_beat > _HEARTBEAT_EVERY_SEC:
            last_beat = time.monotonic()
            try:
                heartbeat_planning(pending_id, worker_id)
            except TRANSIENT:  # the lease outlasts a missed beat; the next one renews it
                logger.warning("%s: heartbeat skipped, the database is away", what)

    owned = client is None
    client = client or make_index_client()
    try:
        dag, snapshot = compute_plan(request_for(pending), client, report)
    except (PlanError, IndexFetchError) as exc:
        logger.info("planning input %s failed: %s", pending_id, exc)
        cause = str(exc)
        outlasting_outages(lambda: mark_planning_failed(pending_id, worker_id, cause), what=what)
        return None
    except PlanQueueError:
        raise  # the lease is gone: the input is not ours to fail
    except TRANSIENT as exc:
        logger.warning("%s: the database went away (%s); handing it back", what, exc)
        outlasting_outages(
            lambda: release_planning(pending_id, worker_id, dispatch=True), what=what
        )
        return None
    except Exception as exc:
        # Not a plan the input can have: say so now, rather than let the lease lapse
        # attempt after attempt with no cause recorded.
        logger.exception("planning input %s crashed", pending_id)
        reason = f"planning failed: {type(exc).__name__}: {exc}"
        outlasting_outages(lambda: mark_planning_failed(pending_id, worker_id, reason), what=what)
        return None
    finally:
        if owned:
            client.close()
    plan: Plan = outlasting_outages(
        lambda: save_plan(pending_id, worker_id, dag=dag, snapshot=snapshot, auto_build=auto_build),
        what=what,
    )
    return plan


class PlanningFailed(Exception):
    """A foreground plan that did not come about; the message says why (the input's error)."""


def plan_in_foreground(
    pending: PendingInput,
    worker_id: str,
    *,
    progress: Callable[[str], None] | None = None,
    auto_build: bool | None = None,
) -> Plan:
    """Queue an input for planning and plan it in this process, not in the cluster (``manage.py
    refine``: the point is to watch it happen). Raises ``PlanQueueError`` when the input is
    busy (being planned elsewhere) and ``PlanningFailed`` when planning fails."""
    if pending.status != PendingInput.Status.PLANNING:
        queue_for_planning(pending, dispatch=False)
    if claim_for_planning(pending.pk, worker_id) is None:
        pending.refresh_from_db()
        raise PlanQueueError(
            f"input {pending.pk} is {pending.status} and leased to "
            f"{pending.lease_owner or 'nobody'}; try again when it is done"
        )
    plan = plan_input(pending.pk, worker_id, progress=progress, auto_build=auto_build)
    if plan is None:
        raise PlanningFailed(f"planning failed: {get_input(pending.pk).error}")
    return plan


@transaction.atomic
def save_plan(
    pending_id: int,
    worker_id: str,
    *,
    dag: dict[str, Any],
    snapshot: dict[str, Any],
    auto_build: bool | None = None,
) -> Plan:
    """Store a plan for an input (a new version when it had one), mark it planned, and
    under AUTO_BUILD start its builds once this transaction commits."""
    pending = PendingInput.objects.select_for_update().filter(pk=pending_id).first()
    if pending is None:
        raise PlanQueueError(f"pending input {pending_id} does not exist")
    if pending.status != PendingInput.Status.PLANNING or pending.lease_owner != worker_id:
        raise PlanQueueError(
            f"pending input {pending_id} is {pending.status} and leased to "
            f"{pending.lease_owner or 'nobody'}, not {worker_id}"
        )
    target = target_row(pending.python_version, pending.platform_tag)
    strategy = snapshot.get("strategy") or runtime_settings.value("upgrade_strategy")
    plan = Plan.objects.create(
        target=target, strategy=strategy, priority=pending.priority, snapshot=snapshot, dag=dag
    )
    for link in PlanInput.objects.filter(input=pending, status=PlanInput.Status.CURRENT):
        link.transition_to(PlanInput.Status.SUPERSEDED)
    latest = PlanInput.objects.filter(input=pending).aggregate(v=Max("version"))["v"] or 0
    PlanInput.objects.create(plan=plan, input=pending, version=latest + 1)
    mark_planned(pending_id, worker_id)
    seconds = snapshot.get("seconds")
    if isinstance(seconds, int | float) and seconds >= 0:
        transaction.on_commit(lambda: PLAN_DURATION.observe(seconds))
    if runtime_settings.value("auto_build") if auto_build is None else auto_build:
        transaction.on_commit(
            lambda: async_task(
                "builds.tasks.enqueue_plan_builds",
                plan.pk,
                task_name=f"enqueue builds of plan {plan.pk}",
            )
        )
    return plan
