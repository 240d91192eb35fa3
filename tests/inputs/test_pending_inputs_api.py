"""Pending inputs over HTTP: list (filters, pages), detail, enqueue-plan and the plan
worker's status reports."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inputs.models import PendingInput
from inputs.plan_queue import pop_for_planning
from tests.factories import PendingInputFactory, PlanInputFactory

pytestmark = pytest.mark.django_db


def test_inputs_are_listed_newest_first_with_filters_and_pages(automation_api):
    PendingInputFactory.create_batch(3)
    failed = PendingInputFactory(status=PendingInput.Status.FAILED, error="conflict")
    body = automation_api.get("/api/pending-inputs?limit=2").json()
    assert body["count"] == 4
    assert len(body["results"]) == 2
    assert body["results"][0]["id"] == failed.pk
    only_failed = automation_api.get("/api/pending-inputs?status=failed").json()["results"]
    assert [i["id"] for i in only_failed] == [failed.pk]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("status=exploded", "status: Select a valid choice."),
        ("limit=501", "limit: '501' is not an integer from 1 to 500"),
        ("limit=-1", "limit: '-1' is not an integer"),
        ("offset=x", "offset: 'x' is not a non-negative integer"),
        ("created_after=yesterday", "created_after: Enter a valid date/time."),
    ],
)
def test_bad_list_parameters_are_refused_by_name(automation_api, query, error):
    response = automation_api.get(f"/api/pending-inputs?{query}")
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)


def test_dates_with_any_offset_python_accepts_are_answered(automation_api):
    PendingInputFactory()
    late = automation_api.get("/api/pending-inputs?created_before=2999-01-01T00:00:00-17:03")
    assert late.status_code == 200
    assert late.json()["count"] == 1


def test_the_detail_shows_the_validated_content_and_the_plans_made_from_it(automation_api):
    link = PlanInputFactory()
    body = automation_api.get(f"/api/pending-inputs/{link.input_id}").json()
    assert body["parsed"] == {"requirements": ["six==1.16.0"]}
    assert body["plans"] == [link.plan_id]
    assert automation_api.get("/api/pending-inputs/999999").status_code == 404


def test_enqueue_plan_queues_a_pending_input_and_replans_a_planned_one(staff_api, settings):
    settings.LOCAL_PLANNING = False
    pending = PendingInputFactory()
    first = staff_api.post(f"/api/pending-inputs/{pending.pk}/enqueue-plan")
    assert first.status_code == 200
    assert first.json()["status"] == "planning"
    busy = staff_api.post(f"/api/pending-inputs/{pending.pk}/enqueue-plan")
    assert busy.status_code == 409
    assert "planning" in busy.json()["error"]
    planned = PendingInputFactory(status=PendingInput.Status.PLANNED)
    assert (
        staff_api.post(f"/api/pending-inputs/{planned.pk}/enqueue-plan").json()["status"]
        == "planning"
    )


def test_enqueue_plan_is_for_operators(automation_api):
    pending = PendingInputFactory()
    assert automation_api.post(f"/api/pending-inputs/{pending.pk}/enqueue-plan").status_code == 403


def _leased_input() -> PendingInput:
    pending = PendingInputFactory(
        status=PendingInput.Status.PLANNING, plan_queued_at=timezone.now()
    )
    # Held as the shared worker token's identity would hold it over the API.
    (popped,) = pop_for_planning("worker/plan-worker", 1)
    assert popped.pk == pending.pk
    return popped


def test_a_plan_worker_extends_its_lease_while_planning(worker_api):
    pending = _leased_input()
    before = pending.lease_expires_at
    response = worker_api.post(
        f"/api/pending-inputs/status/{pending.pk}",
        {"worker": "plan-worker", "status": "planning"},
        format="json",
    )
    assert response.status_code == 200
    pending.refresh_from_db()
    assert pending.lease_expires_at >= before - timedelta(seconds=1)


def test_a_plan_worker_reports_a_failure_with_its_reason(worker_api):
    pending = _leased_input()
    no_reason = worker_api.post(
        f"/api/pending-inputs/status/{pending.pk}",
        {"worker": "plan-worker", "status": "failed"},
        format="json",
    )
    assert no_reason.status_code == 400
    failed = worker_api.post(
        f"/api/pending-inputs/status/{pending.pk}",
        {"worker": "plan-worker", "status": "failed", "error": "six==9 does not exist"},
        format="json",
    )
    assert failed.json()["status"] == "failed"
    assert failed.json()["error"] == "six==9 does not exist"


def test_a_released_input_goes_back_to_the_plan_queue(worker_api):
    pending = _leased_input()
    worker_api.post(
        f"/api/pending-inputs/status/{pending.pk}",
        {"worker": "plan-worker", "status": "released"},
        format="json",
    )
    pending.refresh_from_db()
    assert (pending.status, pending.lease_owner, pending.plan_attempts) == ("planning", "", 0)


def test_reports_on_an_input_another_worker_holds_are_refused(worker_api):
    pending = _leased_input()
    response = worker_api.post(
        f"/api/pending-inputs/status/{pending.pk}",
        {"worker": "someone-else", "status": "failed", "error": "x"},
        format="json",
    )
    assert response.status_code == 409
    assert "leased to worker/plan-worker, not worker/someone-else" in response.json()["error"]
    pending.refresh_from_db()
    assert pending.status == "planning"
