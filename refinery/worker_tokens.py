"""Worker tokens: each remote worker gets a credential of its own, which is its identity."""

from __future__ import annotations

import re
import secrets

from django.db import IntegrityError, transaction

from refinery.lib.api_auth import SHARED_WORKER, token_digest
from refinery.models import WorkerToken

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class WorkerTokenError(ValueError):
    """The operation is refused; the message says why in one line."""


def create_worker_token(name: str) -> str:
    """A new token named ``name``; returns the key, which is shown once and never stored."""
    if not _NAME.fullmatch(name):
        raise WorkerTokenError(
            f"{name!r} is not a worker name: 1 to 64 lower-case letters, digits, '-' or '_'"
        )
    if name == SHARED_WORKER:
        raise WorkerTokenError(f"{name!r} is the shared WORKER_TOKEN's identity; pick another")
    key = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            WorkerToken.objects.create(name=name, key_digest=token_digest(key))
    except IntegrityError:
        raise WorkerTokenError(f"a worker token named {name!r} exists already") from None
    return key


def revoke_worker_token(name: str) -> bool:
    """Refuse the token from now on; False when there is no such live token."""
    return bool(WorkerToken.objects.filter(name=name, revoked=False).update(revoked=True))
