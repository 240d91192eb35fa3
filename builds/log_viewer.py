"""What the log viewer component (``templates/builds/log_viewer.html``) needs about a job."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from builds.models import BuildJob, LogChunk


def log_viewer_context(job: BuildJob) -> dict[str, Any]:
    attempts = sorted(
        set(LogChunk.objects.filter(job=job).values_list("attempt", flat=True).distinct())
        | ({job.attempts} if job.attempts else set())
    )
    return {
        "job": job,
        "socket": f"/ws/builds/{job.pk}/log/",
        "download": f"{reverse('log', args=[job.name, job.version])}?job={job.pk}&download=1",
        "attempts": attempts,
    }
