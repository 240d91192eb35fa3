"""Where a build's output goes while it runs: batched ``LogChunk`` rows with sequence numbers.

Lines are buffered and written every ``max_lines`` lines or ``max_seconds`` seconds, so a
chatty compiler costs a few inserts a second while a reader still sees output promptly.

A build's output is untrusted and unbounded, so every sink keeps it in bounds: a line over
``LOG_MAX_LINE_CHARS`` is split, and an attempt stores at most ``LOG_MAX_BYTES_PER_ATTEMPT``:
the first half as it comes, then a line saying the middle is cut, then, at the end, the
last half (a failure's cause is usually at the very end). The server checks the same bound
on every chunk it is sent (``store_chunk``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from builds import live
from builds.models import BuildJob, LogChunk
from refinery.lib.db_outage import outlasting_outages

logger = logging.getLogger(__name__)

# Room for the cut markers and a last partial chunk beyond the bound itself.
_SERVER_SLACK_BYTES = 64 * 1024


class LogSink(Protocol):
    def write(self, line: str) -> None: ...

    def close(self) -> None: ...


class LogLimitExceeded(Exception):
    """A chunk would take an attempt's stored log past its bound."""


def split_long_line(line: str, max_chars: int) -> list[str]:
    """``line`` (without its newline) in pieces of at most ``max_chars`` characters."""
    if len(line) <= max_chars:
        return [line]
    return [line[start : start + max_chars] for start in range(0, len(line), max_chars)]


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


class BatchingSink(ABC):
    """Buffers lines and hands them on as numbered chunks: every ``max_lines`` lines or
    ``max_seconds`` seconds, whichever comes first, and at ``close``. Keeps the attempt's
    output within ``max_bytes`` (head and tail, the cut marked) and splits long lines.

    A line followed by silence (a compiler at work) is not held back: a flusher thread
    hands on what has waited ``max_seconds``, so a live log never lags by more than that."""

    def __init__(
        self,
        *,
        first_seq: int = 0,
        max_lines: int = 200,
        max_seconds: float = 0.5,
        max_bytes: int | None = None,
        max_line_chars: int | None = None,
    ):
        self.max_lines = max_lines
        self.max_seconds = max_seconds
        self.max_line_chars = max_line_chars or settings.LOG_MAX_LINE_CHARS
        budget = max_bytes or settings.LOG_MAX_BYTES_PER_ATTEMPT
        self._head_left = budget // 2
        self._tail_budget = budget - budget // 2
        self._tail: deque[str] = deque()
        self._tail_bytes = 0
        self._cut_lines = self._cut_bytes = 0
        self._cutting = False
        self._lines: list[str] = []
        self._last_flush = time.monotonic()
        self._seq = first_seq
        self._lock = threading.RLock()  # the writer and the idle flusher take turns
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None

    @abstractmethod
    def deliver(self, seq: int, text: str) -> None:
        """Store or send chunk number ``seq``."""

    def write(self, line: str) -> None:
        with self._lock:
            for piece in split_long_line(line.rstrip("\n"), self.max_line_chars):
                self._keep(piece + "\n")
            if (
                len(self._lines) >= self.max_lines
                or time.monotonic() - self._last_flush >= self.max_seconds
            ):
                self.flush()
            elif self._flusher is None and not self._closed.is_set():
                self._flusher = threading.Thread(
                    target=self._flush_when_idle, name="log-flusher", daemon=True
                )
                self._flusher.start()

    def _flush_when_idle(self) -> None:
        try:
            while not self._closed.wait(self.max_seconds / 2):
                with self._lock:
                    if self._closed.is_set():
                        return
                    if self._lines and time.monotonic() - self._last_flush >= self.max_seconds:
                        self.flush()
        except Exception:  # the lines stay buffered: the writer's next flush takes them
            logger.warning("idle log flush failed", exc_info=True)
        finally:
            self.flusher_done()

    def flusher_done(self) -> None:  # noqa: B027 - a hook; most sinks hold nothing
        """Called in the flusher thread as it ends (to release what the thread holds)."""

    def _keep(self, line: str) -> None:
        size = _utf8_size(line)
        if not self._cutting and size <= self._head_left:
            self._head_left -= size
            self._lines.append(line)
            return
        if not self._cutting:
            self._cutting = True
            self._lines.append(
                "refinery: the log is past half of LOG_MAX_BYTES_PER_ATTEMPT "
                f"({settings.LOG_MAX_BYTES_PER_ATTEMPT} bytes); the rest is held back and "
                "follows when the build ends, its middle cut if it does not fit\n"
            )
        self._tail.append(line)
        self._tail_bytes += size
        while self._tail_bytes > self._tail_budget and self._tail:
            dropped = self._tail.popleft()
            self._tail_bytes -= _utf8_size(dropped)
            self._cut_lines += 1
            self._cut_bytes += _utf8_size(dropped)

    def flush(self) -> None:
        with self._lock:
            self._last_flush = time.monotonic()
            if not self._lines:
                return
            text = "".join(self._lines)
            self.deliver(self._seq, text)  # on failure the lines stay for the next flush
            self._lines = []
            self._seq += 1

    def close(self) -> None:
        with self._lock:
            self._closed.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=30)
        with self._lock:
            self._finish()

    def _finish(self) -> None:
        if self._cutting:
            self._lines.append(
                f"refinery: [{self._cut_lines} lines ({self._cut_bytes} bytes) cut here]\n"
                if self._cut_lines
                else "refinery: [nothing cut: the held-back part follows]\n"
            )
            self._lines.extend(self._tail)
            self._tail.clear()
            self._cutting = False
        self.flush()


def attempt_log_written(job_id: int, attempt: int) -> tuple[int | None, int]:
    """Where an attempt's log stands, in one read: its last chunk's number (None before the
    first) and its size in bytes."""
    # Read as a build starts and at every chunk stored: written out, it skips compiling
    # the aggregate, most of the read's time.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MAX(seq), SUM(size) FROM {LogChunk._meta.db_table}"
            " WHERE job_id = %s AND attempt = %s",
            [job_id, attempt],
        )
        last, size = cursor.fetchone()
    return (None if last is None else int(last)), int(size or 0)


def attempt_log_bytes(job_id: int, attempt: int) -> int:
    return attempt_log_written(job_id, attempt)[1]


def store_chunk(job_id: int, attempt: int, seq: int, text: str) -> bool:
    """Store chunk ``seq`` of an attempt's log; False when it was stored before (a resend).
    Long lines are split here too, whoever sent them; ``LogLimitExceeded`` when the chunk
    would take the attempt past its bound."""
    max_chars = settings.LOG_MAX_LINE_CHARS
    if any(len(line) > max_chars for line in text.split("\n")):
        text = "".join(
            piece + "\n" for line in text.splitlines() for piece in split_long_line(line, max_chars)
        )
    size = _utf8_size(text)
    bound = settings.LOG_MAX_BYTES_PER_ATTEMPT + _SERVER_SLACK_BYTES
    if attempt_log_bytes(job_id, attempt) + size > bound:
        raise LogLimitExceeded(
            f"job {job_id} attempt {attempt}: the log would exceed LOG_MAX_BYTES_PER_ATTEMPT "
            f"({settings.LOG_MAX_BYTES_PER_ATTEMPT} bytes)"
        )
    try:
        with transaction.atomic():
            # The job's row is the lock: its chunks are numbered one writer at a time.
            BuildJob.objects.select_for_update().filter(pk=job_id).first()
            last = LogChunk.objects.filter(job_id=job_id).order_by("-first_line").first()
            chunk = LogChunk.objects.create(
                job_id=job_id,
                attempt=attempt,
                seq=seq,
                text=text,
                size=size,
                first_line=0 if last is None else last.first_line + last.lines,
                lines=text.count("\n") + (1 if text and not text.endswith("\n") else 0),
                created_at=timezone.now(),
            )
    except IntegrityError:
        return False
    transaction.on_commit(lambda: live.log_lines(chunk))
    return True


class DatabaseLogSink(BatchingSink):
    def __init__(
        self, job_id: int, attempt: int, *, max_lines: int = 200, max_seconds: float = 0.5
    ) -> None:
        self.job_id = job_id
        self.attempt = attempt
        # A worker that resumes an attempt's log goes on after what it holds.
        last, size = attempt_log_written(job_id, attempt)
        super().__init__(
            first_seq=0 if last is None else last + 1,
            max_lines=max_lines,
            max_seconds=max_seconds,
        )
        # Lines written earlier in this attempt (the worker's own notes) count too.
        self._head_left = max(0, self._head_left - size)

    def flusher_done(self) -> None:
        connection.close()  # the flusher thread's own database connection

    def deliver(self, seq: int, text: str) -> None:
        # This sink keeps within the bound; only a log others wrote to as well can be full.
        with contextlib.suppress(LogLimitExceeded):
            outlasting_outages(
                lambda: store_chunk(self.job_id, self.attempt, seq, text),
                what=f"job {self.job_id}: log",
            )


class KeptLines:
    """A sink that only keeps the lines, in memory (a rebuild's log for its verdict; tests)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line.rstrip("\n"))

    def close(self) -> None:
        pass
