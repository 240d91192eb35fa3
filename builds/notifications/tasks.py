"""django-q2 entry points for notifications (ids only, idempotent)."""

from __future__ import annotations

from builds.notifications.sender import send_due as _send_due


def send_due(subscription_id: int) -> int:
    return _send_due(subscription_id)
