"""An input keeps a trail like a build job's: every status change and every plan lease taken,
handed back or lost, with who did it, in order; the API and the admin show it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inputs import plan_queue
from inputs.models import InputEvent
from tests.factories import PendingInputFactory

pytestmark = pytest.mark.django_db


def _trail(pending) -> list[tuple[str, str, str, str]]:
    return list(
        InputEvent.objects.filter(input=pending).values_list(
            "kind", "from_status", "to_status", "actor"
        )
    )


def test_planning_an_input_leaves_each_step_on_its_trail():
    pending = plan_queue.enqueue_plan(PendingInputFactory(), dispatch=False)
    plan_queue.pop_for_planning("planner-1")
    plan_queue.mark_planned(pending.pk, "planner-1")
    assert _trail(pending) == [
        ("transition", "pending", "planning", ""),
        ("leased", "planning", "planning", "planner-1"),
        ("transition", "planning", "planned", "planner-1"),
    ]


def test_a_handed_back_lease_and_a_lost_one_are_both_on_the_trail(settings):
    settings.PLAN_MAX_ATTEMPTS = 3
    pending = plan_queue.enqueue_plan(PendingInputFactory(), dispatch=False)
    assert plan_queue.claim_for_planning(pending.pk, "planner-1") is not None
    plan_queue.release_planning(pending.pk, "planner-1")
    plan_queue.pop_for_planning("planner-2", lease_seconds=1)
    plan_queue.reap_expired_plan_leases(now=timezone.now() + timedelta(seconds=5))
    kinds = [(kind, actor) for kind, _, _, actor in _trail(pending)]
    assert kinds == [
        ("transition", ""),
        ("leased", "planner-1"),
        ("released", "planner-1"),
        ("leased", "planner-2"),
        ("released", "reaper"),
    ]
    lost = InputEvent.objects.filter(input=pending).last()
    assert lost.message == "plan worker planner-2 lost its lease"


def test_a_failed_plan_records_why_on_the_trail():
    pending = plan_queue.enqueue_plan(PendingInputFactory(), dispatch=False)
    plan_queue.pop_for_planning("planner-1")
    plan_queue.mark_planning_failed(pending.pk, "planner-1", "no version of nosuch matches")
    last = InputEvent.objects.filter(input=pending).last()
    assert (last.to_status, last.message) == ("failed", "no version of nosuch matches")


def test_the_api_shows_an_inputs_trail(staff_api):
    pending = plan_queue.enqueue_plan(PendingInputFactory(), dispatch=False)
    plan_queue.pop_for_planning("planner-1")
    events = staff_api.get(f"/api/pending-inputs/{pending.pk}").json()["events"]
    assert [(e["kind"], e["to_status"], e["actor"]) for e in events] == [
        ("transition", "planning", ""),
        ("leased", "planning", "planner-1"),
    ]
