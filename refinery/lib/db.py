"""Small facts about the database connection that services branch on."""

from django.db import connection


def supports_skip_locked() -> bool:
    """Postgres: claim with ``FOR UPDATE SKIP LOCKED``. SQLite serializes writers instead."""
    return bool(connection.features.has_select_for_update_skip_locked)
