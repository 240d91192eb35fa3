"""A per-host lock (flock on a file under VAR_DIR): taken if free, or waited for."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings


@contextmanager
def host_lock(name: str, *, wait: bool = False) -> Iterator[bool]:
    """Yields True when this process holds the lock, False when another one does (with
    ``wait``, once the other lets go: always True).

    The kernel drops the lock when the holder dies, so a killed worker never leaves it stuck.
    """
    path = Path(settings.VAR_DIR) / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
