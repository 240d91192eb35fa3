"""Operators drive the queues from the Django admin; actions call the same services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from builds.models import BuildJob
from inputs.models import PendingInput
from plans.models import Plan
from tests.factories import (
    ArtifactFactory,
    BuildJobFactory,
    HintFactory,
    PendingInputFactory,
    PlanFactory,
    PlanInputFactory,
)

pytestmark = pytest.mark.django_db


def _act(client, model_url: str, action: str, objects) -> str:
    response = client.post(
        reverse(f"admin:{model_url}_changelist"),
        {"action": action, "_selected_action": [o.pk for o in objects]},
        follow=True,
    )
    assert response.status_code == 200
    return " ".join(str(m) for m in response.context["messages"])


def test_enqueue_plan_action_queues_pending_inputs_and_explains_refusals(admin_client):
    pending = PendingInputFactory()
    planned = PendingInputFactory(status=PendingInput.Status.PLANNED)

    messages = _act(admin_client, "inputs_pendinginput", "enqueue_plan_action", [pending, planned])

    pending.refresh_from_db()
    assert pending.status == PendingInput.Status.PLANNING
    assert "1 input(s) queued for planning" in messages
    assert f"pending input {planned.pk} is planned" in messages


def test_replan_action_requeues_a_failed_input(admin_client):
    failed = PendingInputFactory(status=PendingInput.Status.FAILED, error="conflict")
    _act(admin_client, "inputs_pendinginput", "replan_action", [failed])
    failed.refresh_from_db()
    assert (failed.status, failed.error) == (PendingInput.Status.PLANNING, "")


def test_enqueue_builds_action_creates_the_plans_jobs(admin_client):
    plan = PlanInputFactory().plan
    ArtifactFactory(target=plan.target, name="six", version="1.16.0")  # reused: in our store
    messages = _act(admin_client, "plans_plan", "enqueue_builds", [plan])
    assert f"plan {plan.pk}: 1 enqueued" in messages
    assert set(BuildJob.objects.filter(plan=plan).values_list("name", "status")) == {
        ("markupsafe", "pending"),
        ("six", "reused"),
    }
    plan.refresh_from_db()
    assert plan.status == Plan.Status.QUEUED


def test_cancel_and_retry_actions_move_jobs_and_record_who_did_it(admin_client):
    job = BuildJobFactory(status=BuildJob.Status.BUILDING)
    _act(admin_client, "builds_buildjob", "cancel_jobs", [job])
    job.refresh_from_db()
    assert job.status == BuildJob.Status.CANCELLED
    assert job.events.last().actor == "admin:admin"

    _act(admin_client, "builds_buildjob", "retry_jobs", [job])
    job.refresh_from_db()
    assert job.status == BuildJob.Status.PENDING


def test_retry_action_refuses_a_built_job_with_a_reason(admin_client):
    built = BuildJobFactory(status=BuildJob.Status.BUILT)
    messages = _act(admin_client, "builds_buildjob", "retry_jobs", [built])
    assert f"build job {built.pk} is built" in messages
    built.refresh_from_db()
    assert built.status == BuildJob.Status.BUILT


def test_requeue_expired_action_returns_only_jobs_whose_lease_ran_out(admin_client):
    expired = BuildJobFactory(
        status=BuildJob.Status.BUILDING, lease_expires_at=timezone.now() - timedelta(minutes=1)
    )
    live = BuildJobFactory(status=BuildJob.Status.BUILDING)

    messages = _act(admin_client, "builds_buildjob", "requeue_expired", [expired, live])

    expired.refresh_from_db()
    live.refresh_from_db()
    assert expired.status == BuildJob.Status.RETRY
    assert live.status == BuildJob.Status.BUILDING
    assert "1 requeued" in messages


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("inputs_pendinginput", "?status__exact=pending&q=requirements"),
        ("plans_plan", "?status__exact=planned"),
        ("plans_target", "?q=s390x"),
        ("plans_planinput", "?status__exact=current"),
        ("builds_buildjob", "?status__exact=failed&q=six"),
        ("builds_buildevent", "?kind__exact=transition"),
        ("hints_hint", "?enabled__exact=1&q=ffi"),
    ],
)
def test_every_model_has_a_filterable_searchable_list(admin_client, url, query):
    PendingInputFactory()
    PlanInputFactory()
    BuildJobFactory(name="six", status=BuildJob.Status.FAILED).events.create(
        kind="transition", to_status="failed", created_at=timezone.now()
    )
    HintFactory()
    response = admin_client.get(reverse(f"admin:{url}_changelist") + query)
    assert response.status_code == 200


def test_a_job_page_shows_its_timeline_and_keeps_worker_fields_read_only(admin_client):
    job = BuildJobFactory(status=BuildJob.Status.BUILDING)
    job.events.create(
        kind="transition",
        from_status="leased",
        to_status="building",
        actor="worker-7",
        created_at=timezone.now(),
    )
    response = admin_client.get(reverse("admin:builds_buildjob_change", args=[job.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "worker-7" in body
    assert 'name="status"' not in body
    assert 'name="lease_owner"' not in body


def test_plan_detail_page_shows_the_dag_read_only(admin_client):
    plan = PlanFactory()
    response = admin_client.get(reverse("admin:plans_plan_change", args=[plan.pk]))
    assert response.status_code == 200
    assert "markupsafe" in response.content.decode()
    assert 'name="dag"' not in response.content.decode()
