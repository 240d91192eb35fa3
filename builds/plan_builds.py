"""Turn a plan's DAG into build queue rows: jobs for what must be built, records for the rest.

Wheels reused from upstream are fetched into our store first (outside the transaction);
nodes whose wheel our store already has become ``cached``. Each build job records what
its build environment needs, so it is claimed only once those are available.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from builds.critical_path import critical_paths, expected_build_ms
from builds.manifest import write_manifest
from builds.models import BuildDependency, BuildJob
from builds.queue import (
    QueueError,
    Wanted,
    enqueue_many,
    normalize_pin,
    record_existing_wheel,
)
from builds.reuse import StoredWheels, fetch_reused_wheels
from inputs.models import PendingInput
from plans.models import Plan, PlanInput

Status = BuildJob.Status


@dataclass
class EnqueueSummary:
    enqueued: list[BuildJob] = field(default_factory=list)
    already_queued: list[BuildJob] = field(default_factory=list)
    recorded: list[BuildJob] = field(default_factory=list)
    skipped: int = 0
    unavailable: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        text = (
            f"{len(self.enqueued)} enqueued, {len(self.already_queued)} already queued, "
            f"{len(self.recorded)} reused/cached, {self.skipped} already done"
        )
        if self.unavailable:
            text += f", {len(self.unavailable)} upstream wheel(s) unavailable (built instead)"
        return text


def node_key(node: dict[str, Any]) -> str:
    return f"{node['name']}=={node['version']}"


def _find_node(plan: Plan, key: str) -> dict[str, Any]:
    for node in plan.nodes():
        if node_key(node) == key:
            return node
    raise QueueError(f"plan {plan.pk} has no node {key!r}")


def build_needs(plan: Plan) -> dict[str, set[str]]:
    """For each node to build: every node of its build environment (its direct build
    requirements and, through install edges, what they need at run time)."""
    install: dict[str, set[str]] = defaultdict(set)
    builds: dict[str, set[str]] = defaultdict(set)
    for edge in plan.dag.get("edges", []):
        (install if edge["kind"] == "install" else builds)[edge["from"]].add(edge["to"])
    needs: dict[str, set[str]] = {}
    for key, direct in builds.items():
        closure, frontier = set(direct), list(direct)
        while frontier:
            for child in install.get(frontier.pop(), ()):
                if child not in closure:
                    closure.add(child)
                    frontier.append(child)
        needs[key] = closure - {key}
    return needs


@dataclass(frozen=True)
class _PlanState:
    """What enqueueing a plan's nodes looks up, read once for all of them."""

    done: set[tuple[str, str]]  # (name, version) of this plan's jobs that succeeded
    stored: StoredWheels
    # The nodes to build and what each one's build environment needs: queued in one batch.
    to_build: list[tuple[Wanted, list[str]]] = field(default_factory=list)

    @classmethod
    def read(cls, plan: Plan, nodes: list[dict[str, Any]]) -> _PlanState:
        done = BuildJob.objects.filter(
            plan=plan, target=plan.target, status__in=BuildJob.SUCCEEDED
        ).values_list("name", "version")
        pins = [(node["name"], node["version"]) for node in nodes]
        return cls(done=set(done), stored=StoredWheels(plan.target, pins))


def _enqueue_node(
    plan: Plan,
    node: dict[str, Any],
    needs: set[str],
    critical_path_ms: int,
    summary: EnqueueSummary,
    state: _PlanState,
    actor: str,
    now: datetime,
) -> None:
    name, version = node["name"], node["version"]
    if normalize_pin(name, version) in state.done:
        summary.skipped += 1
        return
    action = node.get("action")
    if action not in ("build", "reuse", "cached"):
        raise QueueError(f"plan {plan.pk} node {node_key(node)} has unknown action {action!r}")
    if state.stored.has(name, version, built_here=bool(node.get("no_binary"))):
        status = Status.REUSED if action == "reuse" else Status.CACHED
        message = (
            "fetched from upstream into our store" if action == "reuse" else "already in our store"
        )
        summary.recorded.append(
            record_existing_wheel(
                name, version, plan.target, status, plan=plan, actor=actor, now=now, message=message
            )
        )
        return
    # To build: a build node, or a reuse node whose upstream wheel could not be fetched.
    state.to_build.append((Wanted(name, version, critical_path_ms), sorted(needs)))


def _enqueue_builds(
    plan: Plan, summary: EnqueueSummary, state: _PlanState, actor: str, now: datetime
) -> None:
    """Queue the nodes to build in one batch, each with what its build environment needs
    (a job already queued keeps what it recorded before: repeats add nothing twice)."""
    if not state.to_build:
        return
    jobs = enqueue_many(
        [wanted for wanted, _ in state.to_build],
        plan.target,
        plan=plan,
        priority=plan.priority,
        actor=actor,
        now=now,
    )
    needs = []
    for (job, created), (_, job_needs) in zip(jobs, state.to_build, strict=True):
        (summary.enqueued if created else summary.already_queued).append(job)
        for need in job_needs:
            need_name, need_version = need.split("==", 1)
            needs.append(BuildDependency(job=job, name=need_name, version=need_version))
    BuildDependency.objects.bulk_create(needs, ignore_conflicts=True)


def _note_cached(plan: Plan, cached: set[str]) -> None:
    """Build nodes whose wheel our store already had are ``cached`` in the plan too, and
    its counts say so (the plan's decision stands; what it asked for was there)."""
    nodes = plan.nodes()
    changed = [n for n in nodes if n.get("action") == "build" and node_key(n) in cached]
    if not changed:
        return
    for node in changed:
        node["action"] = "cached"
    actions = [n.get("action") for n in nodes]
    plan.dag = {**plan.dag, "nodes": nodes}
    plan.snapshot = {
        **(plan.snapshot or {}),
        "counts": {action: actions.count(action) for action in ("build", "reuse", "cached")},
    }
    plan.save(update_fields=["dag", "snapshot", "updated_at"])


def _advance_statuses(plan: Plan, whole_plan: bool) -> None:
    plan_target = Plan.Status.QUEUED if whole_plan else Plan.Status.BUILD_QUEUED
    if plan.status != plan_target and plan_target in Plan.TRANSITIONS[plan.status]:
        plan.transition_to(plan_target)
    input_target = PendingInput.Status.QUEUED if whole_plan else PendingInput.Status.BUILD_QUEUED
    current_inputs = PendingInput.objects.filter(
        plan_links__plan=plan, plan_links__status=PlanInput.Status.CURRENT
    )
    for pending in current_inputs:
        if input_target in PendingInput.TRANSITIONS[pending.status]:
            pending.transition_to(input_target)


def enqueue_plan_builds(
    plan: Plan, *, actor: str, node: str | None = None, now: datetime | None = None
) -> EnqueueSummary:
    """Enqueue every node of ``plan`` (or only ``node``, given as ``name==version``).

    Safe to repeat: nodes already queued or already done for this plan are left alone.
    """
    now = now if now is not None else timezone.now()
    plan = Plan.objects.select_related("target").get(pk=plan.pk)
    nodes = [_find_node(plan, node)] if node is not None else plan.nodes()
    if not nodes:
        raise QueueError(f"plan {plan.pk} has no nodes to enqueue")
    unavailable = fetch_reused_wheels(plan)  # network: before the transaction, not inside it
    needs = build_needs(plan)
    every_node = plan.nodes()
    build_ms = expected_build_ms(plan.target, (n["name"] for n in every_node))
    paths = critical_paths((node_key(n) for n in every_node), needs, build_ms)
    summary = EnqueueSummary(unavailable=unavailable)
    with transaction.atomic():
        locked = Plan.objects.select_for_update().select_related("target").get(pk=plan.pk)
        state = _PlanState.read(locked, nodes)
        for item in nodes:
            key = node_key(item)
            needed = needs.get(key, set())
            _enqueue_node(locked, item, needed, paths.get(key, 0), summary, state, actor, now)
        _enqueue_builds(locked, summary, state, actor, now)
        cached = {f"{j.name}=={j.version}" for j in summary.recorded if j.status == Status.CACHED}
        _note_cached(locked, cached)
        _advance_statuses(locked, whole_plan=node is None)
    write_manifest(plan)
    return summary
