"""Reading stored build logs without holding a whole log in memory.

A log is bounded per attempt (``LOG_MAX_BYTES_PER_ATTEMPT``) but a job has many attempts
and many readers may ask at once, so readers stream it a few chunks at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db.models import QuerySet

from builds.models import LogChunk

# Chunks fetched per query: each holds at most a couple of hundred (bounded) lines.
_BATCH = 8


def _chunks(job_id: int, attempt: int | None, upto_id: int | None) -> QuerySet[LogChunk]:
    chunks = LogChunk.objects.filter(job_id=job_id)
    if attempt is not None:
        chunks = chunks.filter(attempt=attempt)
    if upto_id is not None:
        chunks = chunks.filter(id__lte=upto_id)
    return chunks.order_by("attempt", "seq")


def iter_log(job_id: int, attempt: int | None = None, upto_id: int | None = None) -> Iterator[str]:
    """The stored log of a job (one attempt, or all in order), chunk by chunk."""
    texts = _chunks(job_id, attempt, upto_id).values_list("text", flat=True)
    yield from texts.iterator(chunk_size=_BATCH)


def job_log(job_id: int, attempt: int | None = None) -> str:
    """The whole stored log as one string: for callers that need it all (the terminal)."""
    return "".join(iter_log(job_id, attempt))


async def aiter_log(
    job_id: int, attempt: int | None = None, upto_id: int | None = None
) -> AsyncIterator[str]:
    """``iter_log`` for an ASGI response: Django would buffer a synchronous iterator whole
    before sending it, so the batches are fetched off the event loop one at a time."""
    position: tuple[int, int] = (0, -1)
    while True:
        attempt_no, seq = position
        batch = await sync_to_async(_next_batch)(job_id, attempt, upto_id, attempt_no, seq)
        if not batch:
            return
        for chunk_attempt, chunk_seq, text in batch:
            position = (chunk_attempt, chunk_seq)
            yield text


def _next_batch(
    job_id: int, attempt: int | None, upto_id: int | None, after_attempt: int, after_seq: int
) -> list[tuple[int, int, str]]:
    later = (
        _chunks(job_id, attempt, upto_id)
        .filter(attempt__gte=after_attempt)
        .exclude(attempt=after_attempt, seq__lte=after_seq)
    )
    return list(later.values_list("attempt", "seq", "text")[:_BATCH])


def attempt_tail(job_id: int, attempt: int, max_lines: int) -> list[str]:
    """The last ``max_lines`` lines an attempt stored (where a failure says what it was)."""
    texts: list[str] = []
    count = 0
    newest_first = LogChunk.objects.filter(job_id=job_id, attempt=attempt).order_by("-seq")
    for text in newest_first.values_list("text", flat=True).iterator(chunk_size=_BATCH):
        texts.append(text)
        count += text.count("\n")
        if count >= max_lines:
            break
    lines = "".join(reversed(texts)).splitlines()
    return lines[-max_lines:]


@dataclass(frozen=True)
class LineBatch:
    """Lines ``seq``, ``seq + 1`` … of a job's log (numbered over all its attempts), all
    from one attempt."""

    attempt: int
    seq: int
    lines: list[str]


def _split(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def lines_since(job_id: int, since: int, max_lines: int = 2000) -> list[LineBatch]:
    """Stored lines from line ``since`` on, at most ``max_lines``, in batches per attempt."""
    start = (
        LogChunk.objects.filter(job_id=job_id, first_line__lte=since)
        .order_by("-first_line")
        .values_list("first_line", flat=True)
        .first()
    )
    chunks = LogChunk.objects.filter(job_id=job_id, first_line__gte=start or 0)
    batches: list[LineBatch] = []
    count = 0
    for attempt, first, text in (
        chunks.order_by("first_line")
        .values_list("attempt", "first_line", "text")
        .iterator(chunk_size=_BATCH)
    ):
        lines = _split(text)
        if first < since:
            lines, first = lines[since - first :], since
        lines = lines[: max_lines - count]
        if not lines:
            if count >= max_lines:
                break
            continue
        if batches and batches[-1].attempt == attempt:
            batches[-1].lines.extend(lines)
        else:
            batches.append(LineBatch(attempt, first, lines))
        count += len(lines)
        if count >= max_lines:
            break
    return batches
