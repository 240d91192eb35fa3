"""A one-line progress display for long-running commands."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """On a terminal, rewrites one status line in place; elsewhere (a CI log) prints at most
    one line every ``every`` seconds."""

    def __init__(self, stream: TextIO | None = None, *, every: float = 1.0) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.every = every
        self._last = 0.0
        self._width = 0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if self.interactive:
            text = message[:120]
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self.stream.flush()
        elif now - self._last >= self.every:
            self.stream.write(message + "\n")
            self._last = now

    def done(self) -> None:
        if self.interactive and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
