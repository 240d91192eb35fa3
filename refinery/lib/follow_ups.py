"""Work that may trail the change that caused it by a moment: a simple page rendered again,
an input's outcome checked for its subscribers. ``soon`` runs it at once, unless the
calling thread handed such work to a background thread (``handed_to``), as a build slot
does while it reports: then the slot takes its next job without waiting for it, and asks
for one key that come together run once.

The change itself (a row, its events, its notification outbox) is never deferred: only
what can be done again from the committed rows, and whose failure is logged, not raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

from refinery.lib.coalescing_worker import CoalescingWorker

FollowUps = CoalescingWorker[Hashable, Callable[[], object]]

_handed = threading.local()


def background(
    name: str, *, settle: float, on_idle: Callable[[float], None] | None = None
) -> FollowUps:
    """A thread that runs what is handed to it, once per key per burst, ``settle`` seconds
    after the burst's first ask (so what the slot does next goes first)."""
    return CoalescingWorker(_run, name=name, settle=settle, on_idle=on_idle)


def _run(key: Hashable, action: Callable[[], object]) -> None:
    action()


@contextmanager
def handed_to(worker: FollowUps | None) -> Iterator[None]:
    """While open, ``soon`` in this thread hands its work to ``worker`` (None: runs it)."""
    previous = getattr(_handed, "worker", None)
    _handed.worker = worker
    try:
        yield
    finally:
        _handed.worker = previous


def soon(key: Hashable, action: Callable[[], object]) -> None:
    """Run ``action`` now, or hand it to this thread's background worker; a later ask with
    the same ``key`` before it ran replaces it."""
    worker: FollowUps | None = getattr(_handed, "worker", None)
    if worker is None:
        action()
    else:
        worker.ask(key, action)
