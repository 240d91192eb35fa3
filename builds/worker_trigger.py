"""Wake the workers up (``POST /api/worker/trigger``) or check they could work (smoke).

With ``WORKER_WEBHOOK_URL`` set, a trigger is forwarded there as the seeds' payload
``{"action": "drain"}`` with the worker token, for a remote worker that listens for it;
otherwise it queues this host's cluster tasks: planning of waiting inputs and a build
drain. Smoke is a dry run: what a worker would need (services, runner, images) and what it
would find to do, without claiming anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from builds.health_checks import readiness, without_password
from builds.models import BuildJob
from builds.queue import waiting_jobs
from builds.runners.configured import buildable_arches, configured_runner
from inputs.plan_queue import waiting_for_planning

ACTIONS = ("drain",)


class TriggerError(Exception):
    """The trigger could not be delivered; the message says where and why."""


@dataclass(frozen=True)
class TriggerResult:
    mode: str  # "local" or "webhook"
    detail: str


def trigger(action: str = "drain") -> TriggerResult:
    if action not in ACTIONS:
        raise ValueError(f"action: {action!r} is not one of {', '.join(ACTIONS)}")
    url = settings.WORKER_WEBHOOK_URL
    if url:
        headers = {"X-Worker-Token": settings.WORKER_TOKEN} if settings.WORKER_TOKEN else {}
        try:
            response = httpx.post(url, json={"action": action}, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            raise TriggerError(f"{without_password(url)}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise TriggerError(f"{without_password(url)} answered HTTP {response.status_code}")
        return TriggerResult("webhook", f"{without_password(url)} answered {response.status_code}")
    if settings.LOCAL_PLANNING:
        async_task("plans.tasks.drain_plan_queue", task_name="drain plan queue (trigger)")
    async_task("builds.tasks.drain_builds", task_name="drain builds (trigger)")
    waiting = waiting_for_planning().count()
    return TriggerResult(
        "local",
        f"queued a build drain and, with local planning, a plan drain ({waiting} input(s) waiting)",
    )


def smoke() -> dict[str, Any]:
    """A dry run of a worker pass: services, runner and what is due, claiming nothing."""
    checks = {what: {"ok": ok, "detail": detail} for what, ok, detail in readiness()}
    runner = configured_runner()
    arches = buildable_arches(runner)
    due = waiting_jobs().filter(next_attempt_at__lte=timezone.now())
    return {
        "ok": all(check["ok"] for check in checks.values()) and bool(arches),
        "checks": checks,
        "runner": runner.name,
        "buildable_arches": arches,
        "due_builds": due.count(),
        "waiting_builds": waiting_jobs().count(),
        "building": BuildJob.objects.filter(status__in=BuildJob.LEASED_STATUSES).count(),
        "waiting_inputs": waiting_for_planning().count(),
        "webhook": without_password(settings.WORKER_WEBHOOK_URL)
        if settings.WORKER_WEBHOOK_URL
        else None,
    }
