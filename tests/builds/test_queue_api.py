"""Both queues over HTTP: what waits, statistics, enqueue and clear, the summary, recent
events and history search."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from builds import queue as build_queue
from builds.models import BuildJob
from inputs.models import PendingInput
from tests.factories import ArtifactFactory, BuildJobFactory, PendingInputFactory

pytestmark = pytest.mark.django_db


def _queued_input(minutes_ago: int = 0) -> PendingInput:
    return PendingInputFactory(
        status=PendingInput.Status.PLANNING,
        plan_queued_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_the_build_queue_lists_waiting_jobs_in_claim_order(automation_api):
    low = BuildJobFactory(priority=0)
    high = BuildJobFactory(priority=3)
    BuildJobFactory(status="built")
    body = automation_api.get("/api/queue").json()
    assert body["queue"] == "build"
    assert [j["id"] for j in body["results"]] == [high.pk, low.pk]


def test_the_plan_queue_lists_inputs_no_worker_holds(automation_api):
    waiting = _queued_input()
    PendingInputFactory()  # pending: not in the queue yet
    body = automation_api.get("/api/queue?queue=plan").json()
    assert [i["id"] for i in body["results"]] == [waiting.pk]
    assert automation_api.get("/api/queue?queue=kafka").json() == {
        "error": "queue: expected one of build, plan"
    }


def test_stats_give_each_queues_length_and_oldest_age(automation_api):
    BuildJobFactory(enqueued_at=timezone.now() - timedelta(minutes=30))
    BuildJobFactory()
    _queued_input(minutes_ago=5)
    body = automation_api.get("/api/queue/stats").json()
    assert body["build"]["length"] == 2
    assert 1790 <= body["build"]["oldest_age_seconds"] <= 1900
    assert body["plan"]["length"] == 1
    assert 290 <= body["plan"]["oldest_age_seconds"] <= 400


def test_an_operator_enqueues_a_build_and_a_repeat_returns_the_same_job(staff_api):
    first = staff_api.post(
        "/api/queue/enqueue",
        {"name": "MarkupSafe", "version": "2.1.5", "priority": "high"},
        format="json",
    )
    assert first.status_code == 201
    assert (first.json()["name"], first.json()["priority"]) == ("markupsafe", "high")
    again = staff_api.post(
        "/api/queue/enqueue", {"name": "markupsafe", "version": "2.1.5"}, format="json"
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "six", "version": "not a version"}, "version: 'not a version' is not a PEP 440"),
        ({"name": "six", "version": "1.0\n--index-url"}, "version: '1.0\\n--index-url' is not"),
        ({"name": "six", "version": "1.0", "target": "cp311-win_amd64"}, "target: "),
        ({"name": "six", "version": "1.0", "priority": "urgent"}, "priority: "),
        ({"version": "1.0"}, "name: This field is required."),
    ],
)
def test_a_bad_enqueue_is_refused_by_field_and_queues_nothing(staff_api, body, error):
    response = staff_api.post("/api/queue/enqueue", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert not BuildJob.objects.exists()


def test_clearing_the_build_queue_cancels_what_waits_and_leaves_running_builds(staff_api):
    waiting = BuildJobFactory.create_batch(2)
    running = BuildJobFactory(status="building")
    response = staff_api.post("/api/queue/clear", {"queue": "build"}, format="json")
    assert response.json() == {"queue": "build", "cleared": 2}
    assert {j.status for j in BuildJob.objects.filter(pk__in=[j.pk for j in waiting])} == {
        "cancelled"
    }
    running.refresh_from_db()
    assert running.status == "building"


def test_clearing_the_plan_queue_fails_waiting_inputs_with_the_reason(staff_api):
    waiting = _queued_input()
    response = staff_api.post("/api/queue/clear", {"queue": "plan"}, format="json")
    assert response.json()["cleared"] == 1
    waiting.refresh_from_db()
    assert waiting.status == "failed"
    assert waiting.error == "removed from the plan queue by api:operator"


def test_the_summary_counts_jobs_and_wheels(automation_api):
    BuildJobFactory(status="built")
    BuildJobFactory()
    ArtifactFactory(origin="built")
    ArtifactFactory()
    body = automation_api.get("/api/summary").json()
    assert body["builds_by_status"]["built"] == 1
    assert body["builds_by_status"]["pending"] == 1
    assert (body["artifacts"], body["artifacts_built"]) == (2, 1)
    assert body["queues"]["build"]["length"] == 1


def test_recent_and_history_show_events_newest_first_and_search_them(automation_api):
    six = BuildJobFactory(name="six")
    idna = BuildJobFactory(name="idna")
    build_queue.claim("runner-1", 2)
    build_queue.fail(six.pk, "runner-1", reason="build_error", error="gcc exploded")
    recent = automation_api.get("/api/recent?limit=1").json()
    assert len(recent) == 1
    assert recent[0]["package"] == "six==1.0"
    history = automation_api.get("/api/history?package=six").json()["results"]
    assert {e["to_status"] for e in history} >= {"leased"}
    assert all(e["job"] == six.pk for e in history)
    found = automation_api.get("/api/history?q=exploded").json()["results"]
    assert [e["job"] for e in found] == [six.pk]
    by_worker = automation_api.get("/api/history?run_id=runner-1&status=leased").json()["results"]
    assert sorted(e["job"] for e in by_worker) == sorted([six.pk, idna.pk])


def test_the_plan_queue_takes_an_input_through_the_same_enqueue(staff_api, settings):
    settings.LOCAL_PLANNING = False
    pending = PendingInputFactory()
    queued = staff_api.post(
        "/api/queue/enqueue", {"queue": "plan", "input_id": pending.pk}, format="json"
    )
    assert queued.status_code == 200
    assert queued.json()["status"] == "planning"
    busy = staff_api.post(
        "/api/queue/enqueue", {"queue": "plan", "input_id": pending.pk}, format="json"
    )
    assert busy.status_code == 409
    missing = staff_api.post("/api/queue/enqueue", {"queue": "plan"}, format="json")
    assert missing.json() == {"error": "input_id: the input to plan is required"}
