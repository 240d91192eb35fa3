"""The plan queue: enqueue, pop under a lease, report, replan, and reaping of vanished planners."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from inputs import plan_queue
from inputs.models import PendingInput
from inputs.priority import Priority
from refinery.lib.worker_ids import this_host
from tests.factories import PendingInputFactory

pytestmark = pytest.mark.django_db

Status = PendingInput.Status


def test_an_input_waits_in_pending_until_enqueued_and_only_then_can_be_popped():
    pending = PendingInputFactory()
    assert plan_queue.pop_for_planning("planner") == []

    plan_queue.enqueue_plan(pending)

    (popped,) = plan_queue.pop_for_planning("planner")
    assert popped.pk == pending.pk
    assert (popped.status, popped.lease_owner, popped.plan_attempts) == (
        Status.PLANNING,
        "planner",
        1,
    )
    assert plan_queue.pop_for_planning("another") == []


def test_pop_takes_higher_priority_first_then_the_longest_waiting():
    now = timezone.now()
    low = plan_queue.enqueue_plan(
        PendingInputFactory(priority=Priority.LOW), now=now - timedelta(hours=1)
    )
    old = plan_queue.enqueue_plan(PendingInputFactory(), now=now - timedelta(minutes=10))
    new = plan_queue.enqueue_plan(PendingInputFactory(), now=now)
    high = plan_queue.enqueue_plan(PendingInputFactory(priority=Priority.HIGH), now=now)

    popped = plan_queue.pop_for_planning("planner", max_n=10, now=now)

    assert [p.pk for p in popped] == [high.pk, old.pk, new.pk, low.pk]


def test_planned_and_failed_reports_release_the_lease():
    first, second = (plan_queue.enqueue_plan(PendingInputFactory()) for _ in range(2))
    plan_queue.pop_for_planning("planner", max_n=2)

    planned = plan_queue.mark_planned(first.pk, "planner")
    failed = plan_queue.mark_planning_failed(second.pk, "planner", "six==9 does not exist")

    assert (planned.status, planned.lease_owner) == (Status.PLANNED, "")
    assert (failed.status, failed.error) == (Status.FAILED, "six==9 does not exist")
    assert planned.plan_finished_at is not None


def test_a_report_from_a_worker_without_the_lease_is_refused():
    pending = plan_queue.enqueue_plan(PendingInputFactory())
    plan_queue.pop_for_planning("planner-a")
    with pytest.raises(plan_queue.PlanQueueError, match="leased to planner-a, not planner-b"):
        plan_queue.mark_planned(pending.pk, "planner-b")


def test_enqueue_refuses_an_input_that_is_not_pending_and_says_what_to_do():
    planned = PendingInputFactory(status=Status.PLANNED)
    with pytest.raises(plan_queue.PlanQueueError, match="replan it instead"):
        plan_queue.enqueue_plan(planned)


def test_replan_puts_a_failed_input_back_in_the_queue_with_fresh_attempts():
    failed = PendingInputFactory(status=Status.FAILED, error="conflict", plan_attempts=3)
    plan_queue.replan(failed)
    failed.refresh_from_db()
    assert (failed.status, failed.error, failed.plan_attempts) == (Status.PLANNING, "", 0)
    assert plan_queue.pop_for_planning("planner")[0].pk == failed.pk


def test_replan_with_a_strategy_plans_with_it_from_now_on(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    planned = PendingInputFactory(
        status=Status.PLANNED, parsed={"requirements": [], "strategy": "pinned"}
    )
    call_command("replan", str(planned.pk), "--strategy", "eager", stdout=io.StringIO())
    planned.refresh_from_db()
    assert planned.status == Status.PLANNING
    assert planned.parsed["strategy"] == "eager"


def test_replan_refuses_an_unknown_strategy_and_changes_nothing():
    planned = PendingInputFactory(status=Status.PLANNED, parsed={"requirements": []})
    with pytest.raises(plan_queue.PlanQueueError, match="'newest' is not one of: pinned, eager"):
        plan_queue.replan(planned, strategy="newest")
    with pytest.raises(CommandError, match="invalid choice: 'newest'"):
        call_command("replan", str(planned.pk), "--strategy", "newest")
    planned.refresh_from_db()
    assert planned.status == Status.PLANNED


def test_replan_refuses_an_input_still_waiting_to_be_planned():
    with pytest.raises(plan_queue.PlanQueueError, match="only planned, queued"):
        plan_queue.replan(PendingInputFactory())


@override_settings(PLAN_MAX_ATTEMPTS=2)
def test_a_vanished_planner_loses_the_input_to_the_queue_until_attempts_run_out():
    pending = plan_queue.enqueue_plan(PendingInputFactory())
    now = timezone.now()
    plan_queue.pop_for_planning("planner-a", lease_seconds=30, now=now)

    assert plan_queue.reap_expired_plan_leases(now=now + timedelta(seconds=31)) == (1, 0)
    pending.refresh_from_db()
    assert (pending.status, pending.lease_owner) == (Status.PLANNING, "")
    assert "planner-a" in pending.error

    plan_queue.pop_for_planning("planner-b", lease_seconds=30, now=now)
    assert plan_queue.reap_expired_plan_leases(now=now + timedelta(seconds=31)) == (0, 1)
    pending.refresh_from_db()
    assert pending.status == Status.FAILED
    assert "no attempts left (2)" in pending.error


def test_an_input_a_dead_local_planner_held_is_planned_again_at_once_not_after_its_lease():
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    dead, alive = f"q2:{this_host()}:{exited.pid}", f"q2:{this_host()}:{os.getpid()}"
    orphaned = plan_queue.enqueue_plan(PendingInputFactory())
    plan_queue.pop_for_planning(dead, lease_seconds=600)
    held = plan_queue.enqueue_plan(PendingInputFactory())
    plan_queue.pop_for_planning(alive, lease_seconds=600)

    assert plan_queue.reclaim_plans_from_dead_workers() == (1, 0)

    orphaned.refresh_from_db()
    held.refresh_from_db()
    assert (orphaned.status, orphaned.lease_owner) == (Status.PLANNING, "")
    assert orphaned.error == f"plan worker {dead} is gone (its process exited)"
    assert held.lease_owner == alive  # a live planner keeps its input
    (again,) = plan_queue.pop_for_planning("planner-b")
    assert again.pk == orphaned.pk


def test_a_released_input_goes_back_to_the_queue_with_its_attempt_refunded():
    pending = plan_queue.enqueue_plan(PendingInputFactory())
    plan_queue.pop_for_planning("planner")
    released = plan_queue.release_planning(pending.pk, "planner")
    assert (released.lease_owner, released.plan_attempts) == ("", 0)
    assert plan_queue.pop_for_planning("other")[0].pk == pending.pk
