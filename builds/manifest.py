"""A plan's manifest in storage: every node, its build status and the wheel we hold for it."""

from __future__ import annotations

import json

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from builds.index.catalog import artifacts_for_pins
from builds.models import BuildJob
from plans.models import Plan
from refinery.lib.host_lock import host_lock


def manifest_key(plan: Plan) -> str:
    return f"manifests/plan-{plan.pk}.json"


def write_manifest(plan: Plan) -> str:
    """(Re)write ``manifests/plan-<id>.json``; returns its storage key.

    One writer at a time on this host, which is where every manifest is written (the web
    server for remote workers' reports, the local workers, commands): replacing a file in
    storage is a check, a delete and a save, and two writers interleaving them left a
    second file under another name (or failed). Each reads the plan inside the lock, so the
    last one to write saw every outcome before it."""
    with host_lock("manifests", wait=True):
        return _write(plan)


def _write(plan: Plan) -> str:
    jobs = {
        (job.name, job.version): job
        for job in BuildJob.objects.filter(plan=plan).order_by("enqueued_at", "id")
    }
    # One query for the whole plan: the manifest is rewritten as each of its jobs ends.
    artifacts = artifacts_for_pins(plan.target, ((n["name"], n["version"]) for n in plan.nodes()))
    nodes = []
    for node in plan.nodes():
        pin = (node["name"], node["version"])
        job = jobs.get(pin)
        nodes.append(
            {
                "name": node["name"],
                "version": node["version"],
                "action": node["action"],
                "status": job.status if job else "not enqueued",
                "failure_reason": job.failure_reason if job else "",
                "wheels": [
                    {
                        "filename": a.filename,
                        "sha256": a.sha256,
                        "size": a.size,
                        "key": a.storage_key,
                    }
                    for a in artifacts.get(pin, [])
                ],
            }
        )
    document = {
        "plan": plan.pk,
        "target": str(plan.target),
        "status": plan.status,
        "written_at": timezone.now().isoformat(),
        "nodes": nodes,
    }
    key = manifest_key(plan)
    if default_storage.exists(key):
        default_storage.delete(key)  # a manifest is a current view, not an immutable artifact
    default_storage.save(key, ContentFile(json.dumps(document, indent=2).encode()))
    return key
