"""Queue statistics as an operator reads them: depth, oldest waiting, leases, last 24 hours."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from builds.models import BuildJob
from builds.stats import build_queue_stats
from inputs import plan_queue
from inputs.models import PendingInput
from tests.factories import BuildJobFactory, PendingInputFactory

pytestmark = pytest.mark.django_db

Status = BuildJob.Status


def test_build_statistics_count_depth_age_leases_and_the_last_day():
    now = timezone.now()
    BuildJobFactory(enqueued_at=now - timedelta(minutes=10))
    BuildJobFactory(status=Status.RETRY, enqueued_at=now - timedelta(minutes=3))
    BuildJobFactory(status=Status.BUILDING)
    for minutes in (60, 120, 180):
        BuildJobFactory(
            status=Status.BUILT,
            finished_at=now - timedelta(hours=1),
            duration=timedelta(minutes=minutes),
        )
    BuildJobFactory(status=Status.FAILED, finished_at=now - timedelta(hours=2))
    BuildJobFactory(status=Status.FAILED, finished_at=now - timedelta(days=2))  # too old to count

    stats = build_queue_stats(now=now)

    assert stats.depth_by_status["pending"] == 1
    assert stats.depth_by_status["failed"] == 2
    assert stats.waiting == 2
    assert timedelta(minutes=10) <= stats.oldest_waiting_age < timedelta(minutes=11)
    assert stats.active_leases == 1
    assert (stats.succeeded_24h, stats.failed_24h) == (3, 1)
    assert stats.success_rate_24h == 0.75
    assert stats.average_duration_24h == timedelta(minutes=120)


def test_an_empty_queue_reports_no_age_and_no_rate():
    stats = build_queue_stats()
    assert (stats.waiting, stats.oldest_waiting_age, stats.success_rate_24h) == (0, None, None)


def test_plan_statistics_count_waiting_inputs_leases_and_planning_outcomes():
    now = timezone.now()
    PendingInputFactory()  # uploaded but never enqueued: not waiting in the queue
    first = plan_queue.enqueue_plan(PendingInputFactory(), now=now - timedelta(minutes=4))
    plan_queue.enqueue_plan(PendingInputFactory(), now=now - timedelta(minutes=2))
    plan_queue.pop_for_planning("planner", max_n=1, now=now - timedelta(minutes=1))
    plan_queue.mark_planned(first.pk, "planner", now=now)
    failed = plan_queue.enqueue_plan(PendingInputFactory(), now=now)
    plan_queue.pop_for_planning("planner", max_n=1, now=now - timedelta(minutes=1))

    stats = plan_queue.plan_queue_stats(now=now)

    assert stats.depth_by_status["pending"] == 1
    assert stats.depth_by_status["planning"] == 2
    assert stats.depth_by_status["planned"] == 1
    assert stats.waiting == 1
    assert stats.active_leases == 1
    assert stats.succeeded_24h == 1
    assert stats.average_duration_24h == timedelta(minutes=1)
    assert failed.pk in PendingInput.objects.filter(status="planning").values_list("pk", flat=True)


def test_queue_stats_prints_a_readable_table_for_both_queues(capsys):
    BuildJobFactory()
    call_command("queue_stats")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["queue", "waiting", "oldest", "leases"]
    assert lines[2].split()[:2] == ["plan", "0"]
    assert lines[3].split()[:2] == ["build", "1"]
    assert "skipped_known_failure" in out
