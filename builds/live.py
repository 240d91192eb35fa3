"""Live updates for pages: new log lines and job status changes, sent over the channel layer
once they are committed.

The database is the source of truth; the channel layer only carries news faster. With
``REDIS_URL`` set, channels-redis carries it from workers (other processes) to the web
process's consumers; without it (the embedded default) there is no cross-process layer,
nothing is sent, and consumers read new rows themselves (``builds.consumers``). Delivery is
at most once either way: consumers fill any gap from the database.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.conf import settings

from builds.models import BuildJob, LogChunk

logger = logging.getLogger(__name__)


def log_group(job_id: int) -> str:
    return f"build-{job_id}-log"


def plan_group(plan_id: int) -> str:
    return f"plan-{plan_id}"


def crosses_processes() -> bool:
    """Whether a message sent here reaches consumers in other processes."""
    return bool(settings.REDIS_URL)


async def _send(messages: list[tuple[str, dict[str, Any]]]) -> None:
    # A layer of its own, not the process's shared one: closing its pools afterwards (the
    # event loop async_to_sync runs it in may go away, channels_redis#332) must not cut
    # the connections of this process's consumers.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    try:
        for group, message in messages:
            await layer.group_send(group, message)
    finally:
        close = getattr(layer, "close_pools", None)
        if close is not None:
            await close()


def _publish(messages: list[tuple[str, dict[str, Any]]]) -> None:
    if not crosses_processes():
        return
    try:
        async_to_sync(_send)(messages)
    except Exception:  # news is a speed-up: never fail a build or a report over it
        logger.warning("live update not sent", exc_info=True)


def log_lines(chunk: LogChunk) -> None:
    lines = chunk.text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    _publish(
        [
            (
                log_group(chunk.job_id),
                {
                    "type": "log.lines",
                    "attempt": chunk.attempt,
                    "seq": chunk.first_line,
                    "lines": lines,
                },
            )
        ]
    )


def job_status(job: BuildJob) -> None:
    message = {
        "type": "job.status",
        "job": job.pk,
        "node": f"{job.name}=={job.version}",
        "status": job.status,
    }
    messages = [(log_group(job.pk), message)]
    if job.plan_id is not None:
        messages.append((plan_group(job.plan_id), message))
    _publish(messages)
