"""One background thread that does a keyed action for whoever asks, once per burst of asks.

Asking again for a key that is still waiting replaces its argument rather than queueing a
second run, so a hundred asks while one run is under way become one more run. Runs happen
one at a time, so two runs for one key never overlap. ``close`` does what is still asked
for, then ends the thread (and its database connection). ``on_idle`` hears, from the
thread, each moment by which everything asked before it was done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

from django.db import connection

logger = logging.getLogger(__name__)
K = TypeVar("K")
A = TypeVar("A")


class CoalescingWorker(Generic[K, A]):
    def __init__(
        self,
        action: Callable[[K, A], None],
        *,
        name: str,
        settle: float = 0.0,
        on_idle: Callable[[float], None] | None = None,
    ) -> None:
        self._action = action
        self._on_idle = on_idle
        self._settle = settle
        self._waiting: dict[K, A] = {}
        self._changed = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def ask(self, key: K, argument: A) -> None:
        with self._changed:
            if self._closing:
                raise RuntimeError("asked after close")
            self._waiting[key] = argument
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._thread.join()

    def __enter__(self) -> CoalescingWorker[K, A]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> None:
        try:
            while True:
                with self._changed:
                    self._changed.wait_for(lambda: bool(self._waiting) or self._closing)
                    if not self._waiting:
                        return  # closing, and nothing is left to do
                    # Asks that come together gather, and whoever asked gets ahead first.
                    self._changed.wait_for(lambda: self._closing, timeout=self._settle)
                    batch, self._waiting = self._waiting, {}
                for key, argument in batch.items():
                    try:
                        self._action(key, argument)
                    except Exception:  # the next ask must still find a thread that runs
                        logger.exception("%s: the action for %r failed", self._thread.name, key)
                on_idle = self._on_idle
                if on_idle is not None:
                    with self._changed:
                        idle, idle_at = not self._waiting, time.time()
                    if idle:
                        try:
                            on_idle(idle_at)
                        except Exception:
                            logger.exception("%s: on_idle failed", self._thread.name)
        finally:
            connection.close()
