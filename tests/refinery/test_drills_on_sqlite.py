"""The crash and restart drills on the embedded default, SQLite (``make test`` runs this file
in its second pass): the same processes, the same assertions as on Postgres."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.drills import (
    kill_9_of_serve_and_a_restart,
    kill_9_of_the_worker_mid_build,
    sigterm_to_serve_mid_build,
)

pytestmark = [
    pytest.mark.sqlite,
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.network,
]


@pytest.fixture(autouse=True)
def _only_on_sqlite(db):
    assert connection.vendor == "sqlite", (
        "run this file with DATABASE_URL=sqlite:///… (make test-sqlite)"
    )


def test_kill_9_of_the_worker_mid_build_on_sqlite_is_built_again_within_a_minute_exactly_once(
    start_refinery, settings, tmp_path
):
    reclaimed_after = kill_9_of_the_worker_mid_build(start_refinery, settings, tmp_path)
    print(f"kill -9 drill (SQLite): claimed again {reclaimed_after:.1f} s after the kill")


def test_the_whole_refinery_killed_and_restarted_on_sqlite_builds_the_job_once(
    start_refinery, settings, tmp_path
):
    reclaimed_after = kill_9_of_serve_and_a_restart(start_refinery, settings, tmp_path)
    print(f"restart drill (SQLite): claimed again {reclaimed_after:.1f} s after the kill")


def test_sigterm_to_serve_on_sqlite_hands_a_running_build_back(start_refinery, settings, tmp_path):
    took = sigterm_to_serve_mid_build(start_refinery, settings, tmp_path)
    print(f"SIGTERM drill (SQLite): handed back in {took:.1f} s")
