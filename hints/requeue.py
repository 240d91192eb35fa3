"""A new or changed hint sends the failed builds it would have helped back to the queue.

hints imports no later app: the work is a django-q2 task of the builds app, enqueued by
its dotted path once the hint is committed."""

from __future__ import annotations

from django.db import transaction
from django_q.tasks import async_task

from hints.models import Hint


def requeue_failures_later(hint: Hint) -> None:
    if not hint.enabled:
        return
    transaction.on_commit(
        lambda: async_task(
            "builds.tasks.requeue_for_hint", hint.pk, task_name=f"re-queue for hint {hint.pk}"
        )
    )
