"""A build's line followed by silence (a compiler at work) reaches the stored log without
waiting for the next line: live viewers see it within the sink's flush interval."""

from __future__ import annotations

import time

import pytest

from builds.log_reader import job_log
from builds.log_sink import DatabaseLogSink
from builds.models import BuildJob, LogChunk
from tests.factories import BuildJobFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for_chunks(job: BuildJob, count: int) -> None:
    deadline = time.monotonic() + 10
    while LogChunk.objects.filter(job=job).count() < count:
        assert time.monotonic() < deadline, "the waiting line was never stored"
        time.sleep(0.05)


def test_a_line_followed_by_silence_is_stored_while_the_build_is_still_silent():
    job = BuildJobFactory(status=BuildJob.Status.BUILDING)
    sink = DatabaseLogSink(job.pk, 1, max_seconds=0.3)
    sink.write("Building wheel for pycups (pyproject.toml): started")
    _wait_for_chunks(job, 1)
    sink.write("gcc -c cupsmodule.c")
    _wait_for_chunks(job, 2)
    sink.close()
    assert job_log(job.pk) == (
        "Building wheel for pycups (pyproject.toml): started\ngcc -c cupsmodule.c\n"
    )


def test_closing_a_sink_stops_its_flusher_and_keeps_every_line_once():
    job = BuildJobFactory(status=BuildJob.Status.BUILDING)
    sink = DatabaseLogSink(job.pk, 1, max_seconds=0.2)
    for number in range(50):
        sink.write(f"line {number}")
    sink.close()
    assert sink._flusher is not None
    assert not sink._flusher.is_alive()
    assert job_log(job.pk).splitlines() == [f"line {n}" for n in range(50)]
