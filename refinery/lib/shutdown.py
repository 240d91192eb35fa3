"""The cluster's shutdown, as ``manage.py serve`` announces it: a marker file under
VAR_DIR, written before the cluster is signalled. django-q2 stops gracefully by waiting for
every running task to end, and a drain's build may take an hour; the drain reads the marker
and hands its builds back instead."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def marker() -> Path:
    return Path(settings.VAR_DIR) / "cluster-stopping"


def announce_shutdown() -> None:
    marker().parent.mkdir(parents=True, exist_ok=True)
    marker().touch()


def clear_shutdown() -> None:
    marker().unlink(missing_ok=True)


def shutdown_requested_since(started: float) -> bool:
    """Whether a shutdown was announced after ``started`` (a time.time())."""
    try:
        return marker().stat().st_mtime >= started - 1
    except FileNotFoundError:
        return False
