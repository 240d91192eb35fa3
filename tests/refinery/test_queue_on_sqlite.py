"""The embedded default: the same queues work on SQLite (run by `make test` in a second pass)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from builds import queue
from builds.models import BuildDependency, BuildEvent, BuildJob
from builds.stats import build_queue_stats
from inputs import plan_queue
from inputs.priority import Priority
from tests.factories import BuildJobFactory, PendingInputFactory, TargetFactory

pytestmark = pytest.mark.sqlite


@pytest.fixture(autouse=True)
def _only_on_sqlite(db):
    assert connection.vendor == "sqlite", (
        "run this file with DATABASE_URL=sqlite:///… (make test-sqlite)"
    )


@pytest.mark.django_db
def test_claim_order_retry_and_reaping_work_on_sqlite():
    now = timezone.now()
    low = BuildJobFactory(priority=Priority.LOW, enqueued_at=now - timedelta(minutes=1))
    high = BuildJobFactory(priority=Priority.HIGH, enqueued_at=now - timedelta(seconds=1))

    first, second = queue.claim("w", max_n=2, now=now)
    assert (first.pk, second.pk) == (high.pk, low.pk)
    assert queue.claim("w2", now=now) == []

    failed = queue.fail(first.pk, "w", reason="build_error", now=now)
    assert failed.status == BuildJob.Status.RETRY
    assert queue.reap_expired_leases(now=now + timedelta(hours=1)).requeued == 1
    assert build_queue_stats(now=now).depth_by_status["retry"] == 2


@pytest.mark.django_db
def test_a_job_is_claimed_on_sqlite_only_once_its_build_environment_is_built():
    target = TargetFactory()
    backend = BuildJobFactory(name="backend", version="2.0", target=target)
    package = BuildJobFactory(name="package", version="1.0", target=target)
    BuildDependency.objects.create(job=package, name="backend", version="2.0")
    # A wheel for another target does not count.
    BuildJobFactory(
        name="backend",
        version="2.0",
        target=TargetFactory(platform_tag="manylinux_2_17_s390x"),
        status=BuildJob.Status.BUILT,
    )
    assert [job.pk for job in queue.claim("w", max_n=5)] == [backend.pk]
    assert queue.claim("w", max_n=5) == []

    queue.complete(backend.pk, "w")
    (claimed,) = queue.claim("w", max_n=5)
    assert claimed.pk == package.pk
    assert (claimed.status, claimed.attempts, claimed.lease_owner) == ("leased", 1, "w")
    event = BuildEvent.objects.filter(job=package).latest("pk")
    assert (event.from_status, event.to_status, event.actor) == ("pending", "leased", "w")
    assert event.data == {"attempt": 1}


@pytest.mark.django_db
def test_a_job_claimed_on_sqlite_is_what_reading_it_gives_and_builds_from_there():
    job = BuildJobFactory(recipes=[{"type": "system_packages", "packages": ["libffi-dev"]}])

    (claimed,) = queue.claim("w", now=timezone.now())

    fields = [field.attname for field in BuildJob._meta.concrete_fields]
    read = BuildJob.objects.get(pk=job.pk)
    assert {f: getattr(claimed, f) for f in fields} == {f: getattr(read, f) for f in fields}
    started = queue.start_building(job.pk, "w", held=claimed)
    built = queue.complete(job.pk, "w", held=started)
    assert built.duration == built.finished_at - started.started_at
    assert BuildJob.objects.get(pk=job.pk).duration == built.duration


@pytest.mark.django_db
def test_a_claim_on_sqlite_takes_only_the_targets_it_can_build():
    host, other, third = (
        TargetFactory(platform_tag=f"manylinux_2_17_{arch}")
        for arch in ("x86_64", "s390x", "ppc64le")
    )
    for target in (host, other, third):
        BuildJobFactory(target=target)

    claimed = queue.claim("w", max_n=5, target_ids=[host.pk, third.pk])
    assert sorted(job.target_id for job in claimed) == sorted([host.pk, third.pk])
    assert queue.claim("w", max_n=5, target_ids=[]) == []
    assert [job.target_id for job in queue.claim("w", max_n=5)] == [other.pk]


@pytest.mark.django_db
def test_the_plan_queue_pops_and_reports_on_sqlite():
    pending = plan_queue.enqueue_plan(PendingInputFactory())
    (popped,) = plan_queue.pop_for_planning("planner")
    assert popped.pk == pending.pk
    assert plan_queue.mark_planned(pending.pk, "planner").status == "planned"


def _drain(worker: str, claimed: list[int], errors: list[BaseException]) -> None:
    try:
        while jobs := queue.claim(worker, max_n=3):
            for job in jobs:
                claimed.append(job.pk)
                queue.complete(job.pk, worker)
    except BaseException as exc:
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_on_sqlite_never_share_a_job():
    target = TargetFactory()
    now = timezone.now()
    BuildJob.objects.bulk_create(
        BuildJob(name=f"p{i}", version="1", target=target, enqueued_at=now, next_attempt_at=now)
        for i in range(200)
    )
    claimed: list[int] = []
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_drain, args=(f"w{i}", claimed, errors)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(claimed) == 200
    assert max(Counter(claimed).values()) == 1
