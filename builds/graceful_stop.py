"""Ctrl-C or SIGTERM to a foreground worker (``manage.py drain``, ``manage.py run_worker``):
no new work at once, running builds get a grace period, then they are stopped and their
jobs handed back; a second signal stops them at once. A worker with nothing running exits
at once, not when the grace ends."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType


@dataclass
class GracefulStop:
    grace_seconds: int
    announce: Callable[[str], None]
    # Set by the signal: take no more work.
    stopping: threading.Event = field(default_factory=threading.Event)
    # Set grace_seconds later: stop what still runs.
    stop: threading.Event = field(default_factory=threading.Event)

    @contextlib.contextmanager
    def installed(self) -> Iterator[GracefulStop]:
        """Ctrl-C and SIGTERM are this stop's while the block runs; what handled them
        before does again after it (a command may run inside another program: a test, a shell)."""
        before = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
        for number in before:
            signal.signal(number, self._on_signal)
        try:
            yield self
        finally:
            for number, handler in before.items():
                signal.signal(number, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping.is_set():
            # A second Ctrl-C: the operator will not wait out the grace period.
            self.announce("stopping now: running builds are stopped and handed back")
            self.stop.set()
            return
        # Set before anything is said: a second signal may arrive while this one is told.
        self.stopping.set()
        self.announce(
            f"stopping: no new work; running builds get {self.grace_seconds} s to finish "
            "(again to stop them now)"
        )
        # A daemon timer: the process may end before it fires (nothing was running).
        timer = threading.Timer(self.grace_seconds, self.stop.set)
        timer.daemon = True
        timer.start()
