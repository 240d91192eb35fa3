"""A database outage in the middle of a plan is not the input's failure: the input goes back
to the queue with its attempt refunded and is planned again at once. (The drill in
tests/builds/test_restart_drills.py stops the real Postgres mid-plan; this pins the branch.)"""

from __future__ import annotations

import pytest
from django.db import OperationalError

from inputs import plan_queue
from inputs.models import PendingInput
from plans import planner
from tests.conftest import queued_tasks
from tests.factories import PendingInputFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


def _planned_while(monkeypatch, failure: Exception) -> PendingInput:
    """An input claimed by a planner whose resolution raises ``failure``, after the attempt."""
    pending = plan_queue.enqueue_plan(PendingInputFactory(), dispatch=False)
    (claimed,) = plan_queue.pop_for_planning("planner-1")

    def resolution(*args, **kwargs):
        raise failure

    monkeypatch.setattr(planner, "compute_plan", resolution)
    assert planner.plan_input(claimed.pk, "planner-1") is None
    pending.refresh_from_db()
    return pending


def test_an_input_whose_planner_lost_the_database_is_handed_back_and_queued_again(
    settings, monkeypatch
):
    settings.LOCAL_PLANNING = True
    outage = OperationalError("terminating connection due to administrator command")
    pending = _planned_while(monkeypatch, outage)

    assert pending.status == "planning"  # not failed: nothing is wrong with the input
    assert (pending.lease_owner, pending.plan_attempts, pending.error) == ("", 0, "")
    planning = [task["args"] for task in queued_tasks() if task["func"].startswith("plans.")]
    assert planning == [(pending.pk,)]


def test_an_input_whose_plan_truly_crashed_is_failed_with_the_cause(monkeypatch):
    pending = _planned_while(monkeypatch, KeyError("requires_dist"))

    assert pending.status == "failed"
    assert pending.error == "planning failed: KeyError: 'requires_dist'"
    assert pending.lease_owner == ""
