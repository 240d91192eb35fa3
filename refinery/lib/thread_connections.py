"""Database connections of a thread pool's threads, kept from one task to the next.

Each task is treated as Django treats a request: the thread's connection is checked before
and after it (``close_if_unusable_or_obsolete``), so it lives as long as ``CONN_MAX_AGE``
allows (60 s) and one that errored is dropped. A build thread that connected afresh for
every build paid a new connection per build (a few ms on Postgres, 2 ms on SQLite).
Django lets only the owning thread close a connection unless it is marked shared, so
each kept one is marked once and ``close`` closes them when the pool is done.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper


class ThreadConnections:
    def __init__(self) -> None:
        self._kept: dict[int, BaseDatabaseWrapper] = {}
        self._lock = threading.Lock()

    @contextmanager
    def task(self) -> Iterator[None]:
        """Around one task in a pool thread."""
        database = connections[DEFAULT_DB_ALIAS]
        database.close_if_unusable_or_obsolete()
        try:
            yield
        finally:
            database.close_if_unusable_or_obsolete()
            if database.connection is not None:
                with self._lock:
                    if id(database) not in self._kept:
                        database.inc_thread_sharing()
                        self._kept[id(database)] = database

    def close(self) -> None:
        """Close every kept connection; call once no task runs."""
        with self._lock:
            kept, self._kept = list(self._kept.values()), {}
        for database in kept:
            database.close()
            database.dec_thread_sharing()
