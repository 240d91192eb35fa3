"""Job events: started, completed, failed and regressed, recorded with the transition."""

from __future__ import annotations

from typing import Any

from builds.models import BuildJob
from builds.notifications import event_types, outbox
from builds.notifications.payloads import job_data

Status = BuildJob.Status
# Final statuses that mean the wheel will not come (skipped_known_failure is an operator's
# known decision, cancelled an operator's act: neither is news).
FAILED = (Status.FAILED, Status.SYSTEM_RECIPE_FAILED, Status.MISSING)
_EVENTS: dict[str, str] = {
    Status.BUILDING: event_types.JOB_STARTED,
    Status.BUILT: event_types.JOB_COMPLETED,
}


def on_transition(job: BuildJob, target: str) -> None:
    """Called in the transition's transaction (the outbox keeps them together)."""
    event = _EVENTS.get(target) or (event_types.JOB_FAILED if target in FAILED else None)
    if event is None:
        return

    def data() -> dict[str, Any]:
        return job_data(job)

    outbox.record(event, data, target_id=job.target_id, packages={job.name}, job=job)
    if target in FAILED and job.regressed_from_id is not None:
        outbox.record(
            event_types.JOB_REGRESSED,
            data,
            target_id=job.target_id,
            packages={job.name},
            job=job,
            dedupe_key=f"{event_types.JOB_REGRESSED}:{job.pk}:{job.attempts}",
        )
