"""The lease core both queues use: a heartbeat renews only its holder's lease, and taking
rows back skips one that was renewed or finished meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from builds.queue import BUILD_LEASE
from inputs import plan_queue
from inputs.plan_queue import PLAN_LEASE
from tests.factories import BuildJobFactory, PendingInputFactory

pytestmark = pytest.mark.django_db


def test_a_heartbeat_renews_only_the_holders_lease():
    now = timezone.now()
    job = BuildJobFactory(status="leased", lease_owner="w1", lease_expires_at=now)
    assert BUILD_LEASE.renew(job.pk, "w2", now) is False
    assert BUILD_LEASE.renew(job.pk, "w1", now, seconds=60) is True
    job.refresh_from_db()
    assert job.lease_expires_at == now + timedelta(seconds=60)


def test_an_input_waiting_in_the_queue_is_held_by_nobody():
    pending = plan_queue.enqueue_plan(PendingInputFactory(), dispatch=False)
    assert PLAN_LEASE.renew(pending.pk, "", timezone.now()) is False


def test_taking_back_skips_a_row_that_left_the_condition_meanwhile():
    now = timezone.now()
    stale = BuildJobFactory(status="leased", lease_owner="w1", lease_expires_at=now)
    fresh = BuildJobFactory(status="leased", lease_owner="w2", lease_expires_at=now)
    taken = []

    def take(job):
        taken.append(job.pk)
        # A heartbeat lands for the other job while this one is taken back.
        BUILD_LEASE.renew(fresh.pk, "w2", now + timedelta(hours=1))

    BUILD_LEASE.take_back(BUILD_LEASE.expired(now + timedelta(seconds=1)), take)
    assert taken == [stale.pk]
