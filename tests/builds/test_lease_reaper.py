"""A worker that vanishes mid-build loses its lease; the reaper puts the job back in the queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from builds import queue
from builds.models import BuildEvent, BuildJob
from tests.factories import BuildJobFactory

pytestmark = pytest.mark.django_db

Status = BuildJob.Status


def test_an_expired_lease_returns_the_job_to_the_queue_with_the_attempt_counted():
    job = BuildJobFactory(max_attempts=3)
    now = timezone.now()
    (claimed,) = queue.claim("worker-a", lease_seconds=60, now=now)
    queue.start_building(claimed.pk, "worker-a", now=now)

    # worker-a dies: no heartbeat, no report. Before expiry the reaper leaves it alone.
    assert queue.reap_expired_leases(now=now + timedelta(seconds=59)).requeued == 0
    result = queue.reap_expired_leases(now=now + timedelta(seconds=61))

    job.refresh_from_db()
    assert result.requeued == 1
    assert job.status == Status.RETRY
    assert job.attempts == 1
    assert job.lease_owner == ""
    assert job.failure_reason == BuildJob.FailureReason.LEASE_EXPIRED
    assert "worker-a" in job.error
    assert job.next_attempt_at > now + timedelta(seconds=61)
    event = BuildEvent.objects.filter(job=job).last()
    assert (event.from_status, event.to_status, event.actor) == ("building", "retry", "reaper")
    assert event.data["worker"] == "worker-a"


def test_the_requeued_job_is_claimed_again_once_due_and_counts_a_second_attempt():
    BuildJobFactory(max_attempts=3)
    now = timezone.now()
    queue.claim("worker-a", lease_seconds=60, now=now)
    queue.reap_expired_leases(now=now + timedelta(seconds=61))
    job = BuildJob.objects.get()

    assert queue.claim("worker-b", now=job.next_attempt_at - timedelta(seconds=1)) == []
    (again,) = queue.claim("worker-b", now=job.next_attempt_at)
    assert again.attempts == 2
    assert again.lease_owner == "worker-b"


def test_the_vanished_worker_cannot_report_over_the_new_owner():
    BuildJobFactory(max_attempts=3)
    now = timezone.now()
    (job,) = queue.claim("worker-a", lease_seconds=60, now=now)
    queue.reap_expired_leases(now=now + timedelta(seconds=61))
    queue.claim("worker-b", now=now + timedelta(days=1))

    with pytest.raises(queue.QueueError, match="leased to worker-b, not worker-a"):
        queue.heartbeat(job.pk, "worker-a")
    with pytest.raises(Exception, match="no longer holds the lease"):
        queue.complete(job.pk, "worker-a")
    assert BuildJob.objects.get().status == Status.LEASED


def test_a_heartbeat_keeps_a_slow_build_from_being_reaped():
    BuildJobFactory()
    now = timezone.now()
    (job,) = queue.claim("worker-a", lease_seconds=60, now=now)
    queue.heartbeat(job.pk, "worker-a", lease_seconds=60, now=now + timedelta(seconds=50))

    assert queue.reap_expired_leases(now=now + timedelta(seconds=100)).requeued == 0
    assert BuildJob.objects.get().status == Status.LEASED


def test_an_expired_lease_on_the_last_attempt_fails_the_job_with_an_event():
    BuildJobFactory(max_attempts=1)
    now = timezone.now()
    queue.claim("worker-a", lease_seconds=60, now=now)

    result = queue.reap_expired_leases(now=now + timedelta(seconds=61))

    job = BuildJob.objects.get()
    assert result.failed == 1
    assert job.status == Status.FAILED
    assert job.finished_at is not None
    assert "no attempts left (1/1)" in BuildEvent.objects.filter(job=job).last().message
