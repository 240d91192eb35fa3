"""Turn a plan's DAG into build queue rows: jobs for ``build`` nodes, records for the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from builds.models import BuildJob
from builds.queue import QueueError, enqueue, record_existing_wheel
from inputs.models import PendingInput
from plans.models import Plan, PlanInput

Status = BuildJob.Status
_ACTION_STATUS = {"reuse": Status.REUSED, "cached": Status.CACHED}


@dataclass
class EnqueueSummary:
    enqueued: list[BuildJob] = field(default_factory=list)
    already_queued: list[BuildJob] = field(default_factory=list)
    recorded: list[BuildJob] = field(default_factory=list)
    skipped: int = 0

    def __str__(self) -> str:
        return (
            f"{len(self.enqueued)} enqueued, {len(self.already_queued)} already queued, "
            f"{len(self.recorded)} reused/cached, {self.skipped} already done"
        )


def node_key(node: dict[str, Any]) -> str:
    return f"{node['name']}=={node['version']}"


def _find_node(plan: Plan, key: str) -> dict[str, Any]:
    for node in plan.nodes():
        if node_key(node) == key:
            return node
    raise QueueError(f"plan {plan.pk} has no node {key!r}")


def _enqueue_node(
    plan: Plan, node: dict[str, Any], summary: EnqueueSummary, actor: str, now: datetime
) -> None:
    action = node.get("action")
    done_for_plan = BuildJob.objects.filter(
        plan=plan,
        name=node["name"],
        version=node["version"],
        target=plan.target,
        status__in=BuildJob.SUCCEEDED,
    ).exists()
    if done_for_plan:
        summary.skipped += 1
        return
    if action == "build":
        job, created = enqueue(
            node["name"],
            node["version"],
            plan.target,
            plan=plan,
            priority=plan.priority,
            actor=actor,
            now=now,
        )
        (summary.enqueued if created else summary.already_queued).append(job)
    elif action in _ACTION_STATUS:
        summary.recorded.append(
            record_existing_wheel(
                node["name"],
                node["version"],
                plan.target,
                _ACTION_STATUS[action],
                plan=plan,
                actor=actor,
                now=now,
                message=f"planned as {action}",
            )
        )
    else:
        raise QueueError(f"plan {plan.pk} node {node_key(node)} has unknown action {action!r}")


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


@transaction.atomic
def enqueue_plan_builds(
    plan: Plan, *, actor: str, node: str | None = None, now: datetime | None = None
) -> EnqueueSummary:
    """Enqueue every node of ``plan`` (or only ``node``, given as ``name==version``).

    Safe to repeat: nodes already queued or already done for this plan are left alone.
    """
    now = now if now is not None else timezone.now()
    plan = Plan.objects.select_for_update().select_related("target").get(pk=plan.pk)
    summary = EnqueueSummary()
    nodes = [_find_node(plan, node)] if node is not None else plan.nodes()
    if not nodes:
        raise QueueError(f"plan {plan.pk} has no nodes to enqueue")
    for item in nodes:
        _enqueue_node(plan, item, summary, actor, now)
    _advance_statuses(plan, whole_plan=node is None)
    return summary
