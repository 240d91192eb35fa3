"""Where a build's output goes while it runs: batched ``LogChunk`` rows with sequence numbers.

Lines are buffered and written every ``max_lines`` lines or ``max_seconds`` seconds, so a
chatty compiler costs a few inserts a second while a reader still sees output promptly.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Protocol

from django.utils import timezone

from builds.models import LogChunk


class LogSink(Protocol):
    def write(self, line: str) -> None: ...

    def close(self) -> None: ...


class BatchingSink(ABC):
    """Buffers lines and hands them on as numbered chunks: every ``max_lines`` lines or
    ``max_seconds`` seconds, whichever comes first, and at ``close``."""

    def __init__(self, *, first_seq: int = 0, max_lines: int = 200, max_seconds: float = 0.5):
        self.max_lines = max_lines
        self.max_seconds = max_seconds
        self._lines: list[str] = []
        self._last_flush = time.monotonic()
        self._seq = first_seq

    @abstractmethod
    def deliver(self, seq: int, text: str) -> None:
        """Store or send chunk number ``seq``."""

    def write(self, line: str) -> None:
        self._lines.append(line if line.endswith("\n") else line + "\n")
        if (
            len(self._lines) >= self.max_lines
            or time.monotonic() - self._last_flush >= self.max_seconds
        ):
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._lines:
            return
        text, self._lines = "".join(self._lines), []
        self.deliver(self._seq, text)
        self._seq += 1

    def close(self) -> None:
        self.flush()


class DatabaseLogSink(BatchingSink):
    def __init__(
        self, job_id: int, attempt: int, *, max_lines: int = 200, max_seconds: float = 0.5
    ) -> None:
        self.job_id = job_id
        self.attempt = attempt
        last = LogChunk.objects.filter(job_id=job_id, attempt=attempt).order_by("-seq").first()
        super().__init__(
            first_seq=0 if last is None else last.seq + 1,
            max_lines=max_lines,
            max_seconds=max_seconds,
        )

    def deliver(self, seq: int, text: str) -> None:
        LogChunk.objects.create(
            job_id=self.job_id,
            attempt=self.attempt,
            seq=seq,
            text=text,
            created_at=timezone.now(),
        )


def job_log(job_id: int, attempt: int | None = None) -> str:
    """The whole stored log of a job (one attempt, or all of them in order)."""
    chunks = LogChunk.objects.filter(job_id=job_id)
    if attempt is not None:
        chunks = chunks.filter(attempt=attempt)
    return "".join(chunks.order_by("attempt", "seq").values_list("text", flat=True))
