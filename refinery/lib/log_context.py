"""What a log line is about: the request and the build job it was written for.

A request id comes from the ``X-Request-ID`` header (or is made up) in the web process; a
job id is bound wherever a job is worked on (the worker, a worker's report to the API), so
one build can be followed across web, cluster and remote worker logs with one filter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="")
job_id: ContextVar[int | None] = ContextVar("job_id", default=None)


@contextmanager
def bound_job(value: int) -> Iterator[None]:
    token = job_id.set(value)
    try:
        yield
    finally:
        job_id.reset(token)


class ContextFilter(logging.Filter):
    """Puts ``request_id`` and ``job_id`` on every record (empty when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        current_job = job_id.get()
        record.job_id = current_job if current_job is not None else ""
        return True
