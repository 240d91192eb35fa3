"""A worker outlasts a short database outage (a restart, a failover): what it has to report
(a build started, a log chunk, a wheel stored, the outcome) waits for the database to come
back instead of crashing the worker and losing the build's attempt. Each try after a failure
opens a fresh connection: the one the outage broke is unusable for good."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")
TRANSIENT = (OperationalError, InterfaceError)


def outlasting_outages(operation: Callable[[], T], *, what: str) -> T:
    """``operation()``, tried again with backoff while the database is away, for up to
    DB_OUTAGE_PATIENCE_SEC; inside a transaction it cannot be, so it is not retried there."""
    deadline = time.monotonic() + settings.DB_OUTAGE_PATIENCE_SEC
    delay = 0.5
    while True:
        try:
            return operation()
        except TRANSIENT as exc:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            logger.warning(
                "%s: the database is away (%s); trying again in %.1f s",
                what,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                delay,
            )
            connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
