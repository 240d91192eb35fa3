"""``manage.py logs JOB_ID [--follow] [--attempt N]``: a job's log in the terminal, followed
until the job ends, with the outcome as the exit status."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from builds import queue as build_queue
from builds.log_sink import store_chunk
from tests.factories import BuildJobFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_log_is_printed_attempt_by_attempt(capsys):
    job = BuildJobFactory(status="failed", attempts=2)
    store_chunk(job.pk, 1, 0, "first try\n")
    store_chunk(job.pk, 2, 0, "second try\nfailed\n")
    call_command("logs", str(job.pk))
    assert capsys.readouterr().out == "first try\nsecond try\nfailed\n"
    call_command("logs", str(job.pk), "--attempt", "2")
    assert capsys.readouterr().out == "second try\nfailed\n"


def test_follow_prints_lines_as_they_come_and_ends_with_the_job(capsys):
    job = BuildJobFactory(status="building", lease_owner="w")
    store_chunk(job.pk, 1, 0, "compiling\n")

    def build() -> None:
        try:
            time.sleep(0.5)
            store_chunk(job.pk, 1, 1, "linking\n")
            time.sleep(0.5)
            build_queue.complete(job.pk, "w")
        finally:
            connection.close()

    worker = threading.Thread(target=build)
    worker.start()
    call_command("logs", str(job.pk), "--follow", "--poll", "0.1")
    worker.join()
    assert capsys.readouterr().out == "compiling\nlinking\n"


def test_follow_exits_with_the_failure(capsys):
    job = BuildJobFactory(status="failed", failure_reason="no_repair_found", error="no luck")
    with pytest.raises(CommandError, match=r"ended failed \(no_repair_found\): no luck"):
        call_command("logs", str(job.pk), "--follow")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x"], "JOB_ID 'x' is not a job number"),
        (["999999"], "no build job 999999"),
        (["1", "--attempt", "one"], "--attempt 'one' is not an attempt number"),
        (["1", "--poll", "0"], "--poll must be between"),
    ],
)
def test_bad_arguments_get_one_line(argv, message):
    with pytest.raises(CommandError, match=message):
        call_command("logs", *argv)
