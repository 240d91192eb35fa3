"""Claim order: priority first, then oldest; only due jobs; backoff grows; attempts run out."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from builds import queue
from builds.models import BuildJob
from inputs.priority import Priority
from refinery.lib.backoff import retry_delay
from tests.factories import BuildJobFactory, TargetFactory

pytestmark = pytest.mark.django_db

Status = BuildJob.Status


def test_higher_priority_is_claimed_first_and_equal_priority_oldest_first():
    now = timezone.now()
    old_low = BuildJobFactory(priority=Priority.LOW, enqueued_at=now - timedelta(hours=2))
    new_normal = BuildJobFactory(priority=Priority.NORMAL, enqueued_at=now - timedelta(minutes=1))
    old_normal = BuildJobFactory(priority=Priority.NORMAL, enqueued_at=now - timedelta(minutes=30))
    critical = BuildJobFactory(priority=Priority.CRITICAL, enqueued_at=now)

    claimed = queue.claim("w", max_n=4, now=now)

    assert [j.pk for j in claimed] == [critical.pk, old_normal.pk, new_normal.pk, old_low.pk]
    assert all(j.status == Status.LEASED and j.attempts == 1 for j in claimed)


def test_claim_takes_at_most_max_n_and_leaves_the_rest_queued():
    for _ in range(5):
        BuildJobFactory()
    assert len(queue.claim("w", max_n=3)) == 3
    assert BuildJob.objects.filter(status=Status.PENDING).count() == 2


def test_a_job_waiting_out_its_backoff_is_not_claimed_before_it_is_due():
    now = timezone.now()
    later = BuildJobFactory(priority=Priority.CRITICAL, next_attempt_at=now + timedelta(minutes=5))
    due = BuildJobFactory(priority=Priority.LOW, enqueued_at=now - timedelta(seconds=1))

    assert [j.pk for j in queue.claim("w", max_n=5, now=now)] == [due.pk]
    assert [j.pk for j in queue.claim("w", max_n=5, now=now + timedelta(minutes=5))] == [later.pk]


def test_claimed_and_finished_jobs_are_never_claimed_again():
    BuildJobFactory(status=Status.BUILT)
    BuildJobFactory(status=Status.FAILED)
    BuildJobFactory(status=Status.CANCELLED)
    (job,) = [BuildJobFactory()]
    assert [j.pk for j in queue.claim("w", max_n=10)] == [job.pk]
    assert queue.claim("w2", max_n=10) == []


@override_settings(RETRY_BACKOFF_BASE_SEC=10, RETRY_BACKOFF_MAX_SEC=10_000, REQUEUE_ON_FAILURE=True)
def test_each_failed_attempt_waits_longer_before_the_retry_is_due():
    BuildJobFactory(max_attempts=4)
    now = timezone.now()
    waits = []
    for attempt in range(1, 4):
        (job,) = queue.claim("w", now=now)
        assert job.attempts == attempt
        failed = queue.fail(job.pk, "w", reason="build_error", error="exit 1", now=now)
        assert failed.status == Status.RETRY
        waits.append(failed.next_attempt_at - now)
        now = failed.next_attempt_at
    assert waits[0] < waits[1] < waits[2]
    assert timedelta(seconds=5) <= waits[0] <= timedelta(seconds=10)
    assert timedelta(seconds=20) <= waits[2] <= timedelta(seconds=40)


@override_settings(REQUEUE_ON_FAILURE=True)
def test_a_job_that_fails_every_attempt_ends_failed_with_its_reason_kept():
    BuildJobFactory(max_attempts=2)
    now = timezone.now()
    (job,) = queue.claim("w", now=now)
    job = queue.fail(job.pk, "w", reason="build_error", error="gcc: error 1", now=now)
    assert job.status == Status.RETRY
    (job,) = queue.claim("w", now=job.next_attempt_at)
    job = queue.fail(job.pk, "w", reason="timeout", error="killed after 3600 s", now=now)

    assert job.status == Status.FAILED
    assert job.attempts == 2
    assert job.failure_reason == "timeout"
    assert job.error == "killed after 3600 s"
    assert queue.claim("w", now=now + timedelta(days=30)) == []


@override_settings(REQUEUE_ON_FAILURE=False)
def test_with_requeue_on_failure_off_a_build_failure_is_final_at_once():
    BuildJobFactory(max_attempts=4)
    (job,) = queue.claim("w")
    assert queue.fail(job.pk, "w", reason="build_error").status == Status.FAILED


@override_settings(REQUEUE_ON_FAILURE=False)
def test_an_infrastructure_failure_is_retried_without_using_up_an_attempt():
    BuildJobFactory(max_attempts=1)
    (job,) = queue.claim("w")
    job = queue.fail(
        job.pk, "w", reason="infrastructure", error="podman: no space", count_attempt=False
    )
    assert job.status == Status.RETRY
    assert job.attempts == 0


def test_released_jobs_go_back_to_pending_with_the_attempt_refunded():
    BuildJobFactory()
    (job,) = queue.claim("w")
    queue.start_building(job.pk, "w")
    job = queue.release(job.pk, "w")
    assert (job.status, job.attempts, job.lease_owner) == (Status.PENDING, 0, "")
    assert queue.claim("w2")[0].pk == job.pk


def test_backoff_windows_never_overlap_between_consecutive_attempts():
    rng = random.Random(7)
    for attempt in range(1, 8):
        upper = max(
            retry_delay(attempt, base_seconds=30, max_seconds=10**6, rng=rng) for _ in range(200)
        )
        lower = min(
            retry_delay(attempt + 1, base_seconds=30, max_seconds=10**6, rng=rng)
            for _ in range(200)
        )
        assert upper <= lower


def test_backoff_is_capped_at_the_maximum():
    assert retry_delay(50, base_seconds=30, max_seconds=600) <= timedelta(seconds=600)


def test_enqueueing_an_already_queued_wheel_returns_the_same_job_at_the_higher_priority():
    first, created = queue.enqueue("MarkupSafe", "2.1.5", BuildJobFactory().target)
    again, created_again = queue.enqueue(
        "markupsafe", "2.1.5", first.target, priority=Priority.HIGH
    )
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert BuildJob.objects.get(pk=first.pk).priority == Priority.HIGH


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [("", "1.0", "invalid package name"), ("six", "not a version", "invalid version")],
)
def test_enqueue_rejects_bad_names_and_versions(name, version, message):
    with pytest.raises(queue.QueueError, match=message):
        queue.enqueue(name, version, BuildJobFactory().target)


def test_cancel_stops_an_active_job_and_retry_puts_it_back():
    job = BuildJobFactory(status=Status.BUILDING)
    queue.cancel(job, actor="ops")
    assert (job.status, job.failure_reason, job.lease_owner) == (Status.CANCELLED, "cancelled", "")
    queue.retry(job, actor="ops")
    assert (job.status, job.attempts) == (Status.PENDING, 0)


def test_retry_refuses_a_job_whose_wheel_is_already_queued_again():
    failed = BuildJobFactory(status=Status.FAILED, name="six", version="1.16.0")
    BuildJobFactory(name="six", version="1.16.0", target=failed.target)
    with pytest.raises(queue.QueueError, match="already has an active build job"):
        queue.retry(failed, actor="ops")
    failed.refresh_from_db()
    assert failed.status == Status.FAILED


def test_a_worker_only_claims_jobs_for_targets_it_can_build():
    s390x = TargetFactory(platform_tag="manylinux_2_17_s390x")
    amd64 = TargetFactory(platform_tag="manylinux_2_17_x86_64")
    ibm = BuildJobFactory(target=s390x, priority=Priority.CRITICAL)
    pc = BuildJobFactory(target=amd64)

    assert [j.pk for j in queue.claim("x86-box", max_n=5, target_ids=[amd64.pk])] == [pc.pk]
    assert queue.claim("x86-box", max_n=5, target_ids=[amd64.pk]) == []
    assert [j.pk for j in queue.claim("z-box", max_n=5, target_ids=[s390x.pk])] == [ibm.pk]
