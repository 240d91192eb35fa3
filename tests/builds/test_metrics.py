"""/metrics: Prometheus's text format, open on loopback or with the token, counting what the
queue, the planner and the index did, with gauges read from the database at scrape time and
counters added up across processes."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from builds import queue as build_queue
from inputs.plan_queue import claim_for_planning, enqueue_plan
from plans.planner import save_plan
from tests.factories import (
    ArtifactFactory,
    BuildJobFactory,
    PendingInputFactory,
    TargetFactory,
    dag,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def scrape(client, **extra) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return float(samples.get((name, tuple(sorted(labels.items()))), 0.0))


def test_metrics_are_open_on_loopback_and_need_the_token_from_elsewhere(client, settings):
    settings.METRICS_TOKEN = "scrape-me"

    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    outside = client.get("/metrics", REMOTE_ADDR="10.20.30.40")
    assert outside.status_code == 401
    assert b"METRICS_TOKEN" in outside.content
    wrong = client.get("/metrics", REMOTE_ADDR="10.20.30.40", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403
    right = client.get("/metrics", REMOTE_ADDR="10.20.30.40", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert right.status_code == 200


def test_without_a_token_setting_only_loopback_may_scrape(client, settings):
    settings.METRICS_TOKEN = None
    assert (
        client.get("/metrics", REMOTE_ADDR="10.20.30.40", HTTP_AUTHORIZATION="Bearer ").status_code
        == 403
    )


def test_driving_jobs_through_the_queue_moves_the_counters_and_the_gauges(client):
    target = TargetFactory()
    label = str(target)
    before = scrape(client)
    old = timezone.now() - timedelta(minutes=10)
    BuildJobFactory(
        target=target,
        name="waiting",
        enqueued_at=old,
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )
    good, _ = build_queue.enqueue("good", "1.0", target, actor="test")
    bad, _ = build_queue.enqueue("bad", "1.0", target, actor="test")
    bad.max_attempts = 1
    bad.save(update_fields=["max_attempts"])

    claimed = build_queue.claim("metrics-worker", max_n=2, target_ids=[target.pk])
    assert {job.name for job in claimed} == {"good", "bad"}
    for job in claimed:
        build_queue.start_building(job.pk, "metrics-worker")
    build_queue.complete(good.pk, "metrics-worker")
    build_queue.fail(bad.pk, "metrics-worker", reason="build_error", error="boom")
    assert build_queue.claim("metrics-worker", max_n=1, target_ids=[target.pk]) == []

    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("refinery_builds_total", outcome="built", reason="", target=label) == 1
    assert delta("refinery_builds_total", outcome="failed", reason="build_error", target=label) == 1
    assert delta("refinery_build_duration_seconds_count", target=label) == 2
    assert delta("refinery_claims_total", outcome="claimed") == 2
    assert delta("refinery_claims_total", outcome="empty") == 1
    assert value(after, "refinery_build_jobs", status="built", target=label) == 1
    assert value(after, "refinery_build_jobs", status="failed", target=label) == 1
    assert value(after, "refinery_build_jobs", status="leased", target=label) == 0
    oldest = value(after, "refinery_queue_oldest_pending_seconds", target=label)
    assert 590 < oldest < 900


def test_the_queue_reads_zero_once_nothing_waits(client):
    target = TargetFactory()
    job, _ = build_queue.enqueue("only", "1.0", target, actor="test")
    build_queue.cancel(job, actor="test")

    samples = scrape(client)

    assert value(samples, "refinery_queue_oldest_pending_seconds", target=str(target)) == 0
    assert value(samples, "refinery_build_jobs", status="pending", target=str(target)) == 0
    assert value(samples, "refinery_build_jobs", status="cancelled", target=str(target)) == 1


def test_index_requests_and_the_page_cache_are_counted(client, settings):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    ArtifactFactory(target=target, name="demo", filename="demo-1.0-py3-none-any.whl")
    before = scrape(client)

    assert client.get("/simple/demo/").status_code == 200  # rendered: a miss
    assert client.get("/simple/demo/").status_code == 200  # stored: a hit
    assert client.get("/simple/nothing-here/").status_code == 404  # looked up: a miss

    after = scrape(client)
    assert (
        value(after, "refinery_index_requests_total", kind="page", status="200")
        - value(before, "refinery_index_requests_total", kind="page", status="200")
        == 2
    )
    assert (
        value(after, "refinery_index_requests_total", kind="page", status="404")
        - value(before, "refinery_index_requests_total", kind="page", status="404")
        == 1
    )
    assert (
        value(after, "refinery_index_cache_misses_total")
        - value(before, "refinery_index_cache_misses_total")
        == 2
    )
    assert (
        value(after, "refinery_index_cache_hits_total")
        - value(before, "refinery_index_cache_hits_total")
        >= 1
    )


def test_a_saved_plan_observes_its_planning_time(client):
    pending = PendingInputFactory()
    enqueue_plan(pending, dispatch=False)
    claim_for_planning(pending.pk, "planner-1")
    before = scrape(client)

    save_plan(
        pending.pk,
        "planner-1",
        dag=dag(("six", "1.16.0", "reuse")),
        snapshot={"seconds": 4.2},
        auto_build=False,
    )

    after = scrape(client)
    assert (
        value(after, "refinery_plan_duration_seconds_count")
        - value(before, "refinery_plan_duration_seconds_count")
        == 1
    )
    assert (
        value(after, "refinery_plan_duration_seconds_bucket", le="5.0")
        - value(before, "refinery_plan_duration_seconds_bucket", le="5.0")
        == 1
    )


def test_counters_written_by_other_processes_are_added_up(client, settings, tmp_path):
    """Multiprocess mode: two other processes count builds into PROMETHEUS_MULTIPROC_DIR;
    this one's scrape adds theirs up (and the gauges still come from the database)."""
    shared = tmp_path / "metrics"
    shared.mkdir()
    script = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'refinery.settings');"
        "django.setup();"
        "from refinery.lib.metrics import BUILDS, INDEX_REQUESTS;"
        "BUILDS.labels('built', '', 'cp311-manylinux_2_17_s390x').inc(3);"
        "INDEX_REQUESTS.labels('file', '200').inc()"
    )
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**_environ(), "PROMETHEUS_MULTIPROC_DIR": str(shared)},
            check=True,
        )
    settings.PROMETHEUS_MULTIPROC_DIR = str(shared)
    BuildJobFactory(target=TargetFactory(), status="pending")

    samples = scrape(client)

    built = value(
        samples,
        "refinery_builds_total",
        outcome="built",
        reason="",
        target="cp311-manylinux_2_17_s390x",
    )
    assert built == 6
    assert value(samples, "refinery_index_requests_total", kind="file", status="200") == 2
    assert any(name == "refinery_build_jobs" for name, _ in samples)


def _environ() -> dict[str, str]:
    import os

    from django.db import connection

    db = connection.settings_dict
    environment = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if connection.vendor == "postgresql":
        environment["DATABASE_URL"] = (
            f"postgres://{db['USER'] or 'root'}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    return environment
