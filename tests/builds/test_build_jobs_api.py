"""Build jobs for operators over HTTP: the list with its filters and pages, a job's detail,
cancel and retry, and enqueueing a plan's builds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from builds import queue as build_queue
from builds.models import BuildEvent, BuildJob
from tests.factories import BuildJobFactory, PlanFactory, dag

pytestmark = pytest.mark.django_db


def test_the_list_pages_by_50_by_default_and_at_most_500(automation_api):
    BuildJobFactory.create_batch(55)
    first = automation_api.get("/api/builds").json()
    assert first["count"] == 55
    assert len(first["results"]) == 50
    assert first["next"].endswith("limit=50&offset=50")
    assert len(automation_api.get("/api/builds?limit=500").json()["results"]) == 55
    too_many = automation_api.get("/api/builds?limit=501")
    assert too_many.status_code == 400
    assert too_many.json() == {"error": "limit: '501' is not an integer from 1 to 500"}


def test_the_list_filters_by_package_status_plan_dates_and_run_id(automation_api):
    plan = PlanFactory()
    six = BuildJobFactory(name="six", plan=plan, status="failed")
    BuildJobFactory(name="six", version="2.0")
    old = BuildJobFactory(name="idna", enqueued_at=timezone.now() - timedelta(days=10))
    claimed = BuildJobFactory(name="attrs")
    build_queue.claim("runner-7", 5)

    def ids(query: str) -> list[int]:
        response = automation_api.get(f"/api/builds?{query}")
        assert response.status_code == 200, response.json()
        return sorted(job["id"] for job in response.json()["results"])

    assert len(ids("package=SIX")) == 2  # names are normalized
    assert ids("package=six&status=failed") == [six.pk]
    assert ids(f"plan={plan.pk}") == [six.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert old.pk not in ids(f"since={since.replace('+', '%2B')}")
    assert ids("run_id=runner-7") == sorted(
        j.pk for j in BuildJob.objects.filter(lease_owner="runner-7")
    )
    assert claimed.pk in ids("run_id=runner-7")
    assert ids("status=built&status=failed") == [six.pk]


def test_a_jobs_detail_has_its_timeline_wheels_and_log_link(automation_api):
    job = BuildJobFactory(name="six", version="1.16.0")
    build_queue.cancel(job, actor="api:ops")
    body = automation_api.get(f"/api/builds/{job.pk}").json()
    assert body["status"] == "cancelled"
    assert [e["to_status"] for e in body["events"]] == ["cancelled"]
    assert body["events"][0]["package"] == "six==1.16.0"
    assert body["log_url"] == f"/api/logs/six/1.16.0?job={job.pk}"
    assert automation_api.get("/api/builds/999999").json() == {
        "error": "No BuildJob matches the given query."
    }


def test_an_operator_cancels_and_retries_a_job(staff_api):
    job = BuildJobFactory()
    cancelled = staff_api.post(f"/api/builds/{job.pk}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    again = staff_api.post(f"/api/builds/{job.pk}/cancel")
    assert again.status_code == 409
    assert "already cancelled" in again.json()["error"]
    retried = staff_api.post(f"/api/builds/{job.pk}/retry")
    assert retried.json()["status"] == "pending"
    assert BuildEvent.objects.filter(job=job, actor="api:operator").count() == 2


def test_retrying_an_active_job_is_refused(staff_api):
    job = BuildJobFactory()
    response = staff_api.post(f"/api/builds/{job.pk}/retry")
    assert response.status_code == 409
    assert "only failed, cancelled, missing or skipped jobs" in response.json()["error"]


def _buildable_plan():
    return PlanFactory(dag=dag(("markupsafe", "2.1.5", "build"), ("pyyaml", "6.0.1", "build")))


def test_enqueue_builds_creates_a_job_per_build_node_and_is_safe_to_repeat(staff_api):
    plan = _buildable_plan()
    first = staff_api.post(f"/api/plans/{plan.pk}/enqueue-builds")
    assert first.status_code == 200
    assert len(first.json()["enqueued"]) == 2
    again = staff_api.post(f"/api/plans/{plan.pk}/enqueue-builds").json()
    assert again["enqueued"] == []
    assert BuildJob.objects.filter(plan=plan).count() == 2


def test_enqueue_build_takes_one_node_and_refuses_one_not_in_the_plan(staff_api):
    plan = _buildable_plan()
    one = staff_api.post(
        f"/api/plans/{plan.pk}/enqueue-build", {"node": "pyyaml==6.0.1"}, format="json"
    )
    assert len(one.json()["enqueued"]) == 1
    assert list(BuildJob.objects.values_list("name", flat=True)) == ["pyyaml"]
    plan.refresh_from_db()
    assert plan.status == "build_queued"
    unknown = staff_api.post(
        f"/api/plans/{plan.pk}/enqueue-build", {"node": "numpy==2.0"}, format="json"
    )
    assert unknown.status_code == 400
    assert unknown.json() == {"error": f"node: 'numpy==2.0' is not a node of plan {plan.pk}"}


def test_plans_are_listed_and_shown_with_their_dag(automation_api):
    plan = _buildable_plan()
    listed = automation_api.get("/api/plans").json()
    assert listed["results"][0]["id"] == plan.pk
    assert "dag" not in listed["results"][0]
    detail = automation_api.get(f"/api/plans/{plan.pk}").json()
    assert [n["name"] for n in detail["dag"]["nodes"]] == ["markupsafe", "pyyaml"]
    assert automation_api.get("/api/plans?status=nonsense").status_code == 400
