"""A build's output is untrusted and unbounded; what is stored and served is not: each
attempt keeps its head and tail within LOG_MAX_BYTES_PER_ATTEMPT with the cut marked, long
lines are split, and reading a log streams it instead of building it in memory."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from django.db.models import Max, Sum

from builds.log_reader import job_log
from builds.log_sink import DatabaseLogSink, store_chunk
from builds.models import LogChunk
from tests.conftest import WORKER_TOKEN
from tests.factories import BuildJobFactory

pytestmark = pytest.mark.django_db


def _stored_bytes(job) -> int:
    return LogChunk.objects.filter(job=job).aggregate(s=Sum("size"))["s"] or 0


def test_a_flood_of_output_keeps_its_head_and_tail_and_marks_the_cut(settings):
    settings.LOG_MAX_BYTES_PER_ATTEMPT = 64 * 1024
    job = BuildJobFactory(status="building")
    sink = DatabaseLogSink(job.pk, 1, max_seconds=60)
    for number in range(100_000):
        sink.write(f"line {number} " + "x" * 40)
    sink.close()

    log = job_log(job.pk)
    assert _stored_bytes(job) <= 64 * 1024 + 1024
    assert log.startswith("line 0 ")
    assert log.rstrip("\n").endswith("line 99999 " + "x" * 40)
    assert "the rest is held back" in log
    cut = next(line for line in log.splitlines() if "cut here" in line)
    assert "lines (" in cut
    assert len(log.encode()) == _stored_bytes(job)


def test_a_log_past_half_the_cap_that_fits_loses_nothing_and_says_so(settings):
    settings.LOG_MAX_BYTES_PER_ATTEMPT = 64 * 1024
    job = BuildJobFactory(status="building")
    sink = DatabaseLogSink(job.pk, 1, max_seconds=60)
    lines = [f"line {number} " + "x" * 40 for number in range(1000)]  # ~50 KB of 64
    for line in lines:
        sink.write(line)
    sink.close()

    log = job_log(job.pk).splitlines()
    assert [line for line in log if not line.startswith("refinery: ")] == lines
    assert "refinery: [nothing cut: the held-back part follows]" in log
    assert not any("cut here" in line for line in log)


def test_a_single_huge_line_is_split_into_bounded_lines(settings):
    settings.LOG_MAX_LINE_CHARS = 1000
    job = BuildJobFactory(status="building")
    sink = DatabaseLogSink(job.pk, 1)
    sink.write("y" * 50_000)
    sink.close()
    lines = job_log(job.pk).splitlines()
    assert len(lines) == 50
    assert {len(line) for line in lines} == {1000}


def _chunk(api, job, seq: int, text: str):
    body = {"job_id": job.pk, "worker": "w1", "attempt": 1, "seq": seq, "text": text}
    return api.post("/api/logs/stream", body, format="json")


def test_the_server_refuses_a_remote_worker_past_the_bound(worker_api, settings):
    settings.LOG_MAX_BYTES_PER_ATTEMPT = 64 * 1024
    job = BuildJobFactory(status="building", lease_owner="worker/w1")
    statuses = [_chunk(worker_api, job, seq, "z" * 50_000 + "\n").status_code for seq in range(4)]
    assert statuses[0] == 201
    assert statuses[-1] == 413
    assert _stored_bytes(job) <= 64 * 1024 + 64 * 1024 + 100


def test_the_server_splits_an_over_long_line_whoever_sent_it(worker_api, settings):
    settings.LOG_MAX_LINE_CHARS = 100
    job = BuildJobFactory(status="building", lease_owner="worker/w1")
    assert _chunk(worker_api, job, 0, "q" * 1000 + "\nshort\n").status_code == 201
    lines = job_log(job.pk).splitlines()
    assert lines == ["q" * 100] * 10 + ["short"]


def _log(job, *texts: str, attempt: int = 1) -> None:
    for seq, text in enumerate(texts):
        assert store_chunk(job.pk, attempt, seq, text)


def test_a_log_is_served_as_json_or_as_a_text_download(staff_api):
    job = BuildJobFactory(name="six", version="1.16.0", status="failed", attempts=2)
    _log(job, 'first "quoted"\n', "second\n")
    _log(job, "again\n", attempt=2)
    response = staff_api.get("/api/logs/six/1.16.0")
    body = json.loads(b"".join(response.streaming_content))
    assert body["text"] == 'first "quoted"\nsecond\nagain\n'
    assert body["next_since"] == LogChunk.objects.aggregate(m=Max("id"))["m"]
    assert body["attempts"] == 2
    text = staff_api.get("/api/logs/six/1.16.0?download=1&attempt=2")
    assert text["Content-Type"].startswith("text/plain")
    assert "attachment" in text["Content-Disposition"]
    assert b"".join(text.streaming_content) == b"again\n"
    assert staff_api.get("/api/logs/six/1.16.0?download=maybe").status_code == 400


def test_a_page_of_chunks_stops_at_a_megabyte(staff_api):
    job = BuildJobFactory(name="six", version="1.16.0", status="building")
    _log(job, *["c" * 400_000 + "\n"] * 6)
    page = staff_api.get("/api/logs/chunks/six/1.16.0").json()
    assert len(page["chunks"]) == 2
    rest = staff_api.get(f"/api/logs/chunks/six/1.16.0?since={page['next_since']}").json()
    assert len(rest["chunks"]) == 2


def _rss_peak_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


def _web_pid(server_pid: int) -> int:
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    return int(children[0])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_reading_a_big_log_four_times_at_once_costs_the_server_little_memory(start_refinery):
    job = BuildJobFactory(name="chatty", version="1.0", status="failed", attempts=4)
    block = ("compiler noise " * 60 + "\n") * 8_000  # ~7 MB per attempt
    for attempt in range(1, 5):
        _log(job, *[block[i : i + 500_000] for i in range(0, len(block), 500_000)], attempt=attempt)
    base = start_refinery(env={"WORKER_TOKEN": WORKER_TOKEN})
    web = _web_pid(start_refinery.servers[0].pid)
    warm_up = httpx.get(
        f"{base}/api/logs/chatty/1.0?attempt=1&download=1",
        headers={"X-Worker-Token": WORKER_TOKEN},
        timeout=120,
    )
    assert len(warm_up.content) == len(block)  # the code paths are loaded; now measure
    before = _rss_peak_kb(web)

    sizes: list[int] = []

    def read() -> None:
        with httpx.stream(
            "GET",
            f"{base}/api/logs/chatty/1.0?download=1",
            headers={"X-Worker-Token": WORKER_TOKEN},
            timeout=120,
        ) as response:
            sizes.append(sum(len(part) for part in response.iter_bytes()))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()

    assert sizes == [4 * len(block)] * 4  # every reader got the whole 28 MB log
    assert _rss_peak_kb(web) - before < 64 * 1024  # buffered, it would be hundreds of MB
