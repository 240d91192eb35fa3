"""What subscribers are told: Standard Webhooks' ``{"type", "timestamp", "data"}`` with the
ids, names, versions, target, status, reason and links a receiver acts on."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from builds.models import BuildJob
from inputs.models import PendingInput
from plans.models import Plan


def link(name: str, *args: object) -> str:
    return settings.PUBLIC_URL + reverse(name, args=args)


def envelope(event: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"type": event, "timestamp": at.isoformat(), "data": data}


def job_data(job: BuildJob) -> dict[str, Any]:
    data: dict[str, Any] = {
        "job": {
            "id": job.pk,
            "name": job.name,
            "version": job.version,
            "target": str(job.target),
            "status": job.status,
            "reason": job.failure_reason,
            "error": job.error[:2000],
            "attempts": job.attempts,
            "repair_rounds": job.repair_rounds,
            "plan_id": job.plan_id,
            "links": {
                "page": link("pages:build", job.pk),
                "package": link("pages:package", job.name),
                "log": link("log", job.name, job.version) + f"?job={job.pk}",
                "api": link("build", job.pk),
            },
        }
    }
    if job.regressed_from_id is not None:
        earlier = BuildJob.objects.filter(pk=job.regressed_from_id).first()
        if earlier is not None:
            data["regressed_from"] = {
                "id": earlier.pk,
                "version": earlier.version,
                "built_at": earlier.finished_at.isoformat() if earlier.finished_at else None,
                "page": link("pages:build", earlier.pk),
            }
    return data


def input_data(pending: PendingInput, plan: Plan | None, jobs: list[BuildJob]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "input": {
            "id": pending.pk,
            "filename": pending.original_filename,
            "kind": pending.kind,
            "status": pending.status,
            "error": pending.error[:2000],
            "target": f"cp{pending.python_version.replace('.', '')[:3]}-{pending.platform_tag}",
            "links": {"api": link("pending-input", pending.pk)},
        }
    }
    if plan is not None:
        data["plan"] = {
            "id": plan.pk,
            "target": str(plan.target),
            "nodes": len(plan.nodes()),
            "links": {"page": link("pages:plan", plan.pk), "api": link("plan", plan.pk)},
        }
    if jobs:
        data["jobs"] = dict(sorted(Counter(job.status for job in jobs).items()))
        data["failed"] = [
            {
                "id": job.pk,
                "name": job.name,
                "version": job.version,
                "status": job.status,
                "reason": job.failure_reason,
                "page": link("pages:build", job.pk),
            }
            for job in jobs
            if job.status not in BuildJob.SUCCEEDED
        ]
    return data
