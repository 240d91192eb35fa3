"""Input events, told from the inputs' own status changes (inputs and plans do not import
builds; they send ``input_status_changed`` and this listens)."""

from __future__ import annotations

from typing import Any

from builds.notifications import event_types, input_outcomes, outbox
from builds.notifications.payloads import input_data
from inputs.models import PendingInput
from plans.models import PlanInput, Target

Status = PendingInput.Status


def on_input_status(sender: Any, *, input_id: int, status: str, **kwargs: Any) -> None:
    if status in (Status.QUEUED, Status.BUILD_QUEUED):
        input_outcomes.check_input(input_id)
        return
    if status not in (Status.PLANNED, Status.FAILED):
        return
    pending = PendingInput.objects.filter(pk=input_id).first()
    if pending is None:
        return
    link = (
        PlanInput.objects.filter(input=pending, status=PlanInput.Status.CURRENT)
        .select_related("plan", "plan__target")
        .first()
    )
    plan = link.plan if link is not None and status == Status.PLANNED else None
    event = event_types.INPUT_PLANNED if status == Status.PLANNED else event_types.INPUT_FAILED
    if plan is not None:
        target_id: int | None = plan.target_id
        packages = {node["name"] for node in plan.nodes()}
    else:
        target = Target.objects.filter(
            python_version=".".join(pending.python_version.split(".")[:2]),
            platform_tag=pending.platform_tag,
        ).first()
        target_id = target.pk if target is not None else None
        packages = _requirement_names(pending)
    outbox.record(
        event,
        lambda: input_data(pending, plan, []),
        target_id=target_id,
        packages=packages,
        dedupe_key=f"{event}:{input_id}:{plan.pk}" if plan is not None else None,
    )


def _requirement_names(pending: PendingInput) -> set[str]:
    """The canonical names the upload stored for its requirements."""
    return {
        str(item["name"])
        for item in (pending.parsed or {}).get("requirements", [])
        if isinstance(item, dict) and item.get("name")
    }
