"""Small facts about the database connection that services branch on, and the one way
the hot path runs a statement of its own."""

from collections.abc import Mapping
from typing import Any

import psycopg
from django.db import connection


def supports_skip_locked() -> bool:
    """Postgres: claim with ``FOR UPDATE SKIP LOCKED``. SQLite serializes writers instead."""
    return bool(connection.features.has_select_for_update_skip_locked)


def fetch_prepared(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run a statement that is executed many times (a claim) as a Postgres prepared statement
    with server-side parameters, on Django's connection and inside its transaction.

    Django's own cursors bind parameters on the client, so Postgres parses and plans the
    whole text on every call; for the claim that was half its cost (bench/queue_claim.py).
    Errors come out as Django's database errors, as from any query.
    """
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection
        with psycopg.Cursor(raw) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall()
