"""Webhook subscriptions: made through the API (staff), told of job and input events with
Standard Webhooks signatures, retried with backoff when the receiver fails, redelivered on
request, disabled after too many failures, and never pointed at private addresses unless
allowed. A real HTTP receiver on loopback checks every delivery."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.scheduler import scheduler

from builds import queue as build_queue
from builds.models import BuildJob, Delivery, Subscription
from inputs.models import PendingInput
from tests.factories import PendingInputFactory, PlanFactory, PlanInputFactory, TargetFactory, dag
from tests.receivers import webhook_receiver

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WORKER = "hook-worker"


@pytest.fixture(autouse=True)
def tasks_run_inline(monkeypatch, settings):
    """django-q2 runs each task at once, in this process (its sync mode), and loopback is a
    fine destination for a test's receiver."""
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_BASE_SEC = 1  # retries come after 0.5 to 0.75 s
    settings.PUBLIC_URL = "https://refinery.example"


@pytest.fixture
def receiver():
    with webhook_receiver() as started:
        yield started


def subscribe(api, url: str, events: list[str], **extra) -> dict[str, Any]:
    response = api.post(
        "/api/subscriptions",
        {"kind": "webhook", "url": url, "secret": SECRET, "events": events, **extra},
        format="json",
    )
    assert response.status_code == 201, response.json()
    made: dict[str, Any] = response.json()
    return made


def build(name: str, target, *, succeed: bool = True, version: str = "1.0") -> BuildJob:
    job, _ = build_queue.enqueue(name, version, target, actor="test")
    (claimed,) = build_queue.claim(WORKER, max_n=1, target_ids=[target.pk])
    assert claimed.pk == job.pk
    build_queue.start_building(job.pk, WORKER)
    if succeed:
        return build_queue.complete(job.pk, WORKER)
    return build_queue.fail(job.pk, WORKER, reason="build_error", error="boom", retryable=False)


def test_a_subscription_made_through_the_api_gets_signed_job_events(staff_api, receiver):
    made = subscribe(staff_api, receiver.url, ["job.started", "job.completed", "job.failed"])
    assert made["id"]
    assert made["secret"] == SECRET
    assert made["active"] is True
    target = TargetFactory()

    ok = build("goodpkg", target)
    bad = build("badpkg", target, succeed=False)

    delivered = receiver.wait_for(4)
    assert [d.event for d in delivered] == [
        "job.started",
        "job.completed",
        "job.started",
        "job.failed",
    ]
    assert all(d.signed_by(SECRET) for d in delivered)
    assert len({d.headers["webhook-id"] for d in delivered}) == 4
    completed = delivered[1].payload["data"]["job"]
    assert completed["id"] == ok.pk
    assert (completed["name"], completed["version"], completed["status"]) == (
        "goodpkg",
        "1.0",
        "built",
    )
    assert completed["target"] == str(target)
    assert completed["links"]["page"] == f"https://refinery.example/builds/{ok.pk}/"
    failed = delivered[3].payload["data"]["job"]
    assert (failed["id"], failed["status"], failed["reason"]) == (bad.pk, "failed", "build_error")
    assert staff_api.get(f"/api/subscriptions/{made['id']}").json().get("secret") is None


def test_a_receiver_answering_500_sees_a_retry_with_the_same_webhook_id(staff_api, receiver):
    subscribe(staff_api, receiver.url, ["job.completed"])
    receiver.answers = [500]

    build("flaky-receiver", TargetFactory())

    (first,) = receiver.wait_for(1)
    delivery = Delivery.objects.get()
    assert delivery.status == "retrying"
    assert delivery.last_status_code == 500
    assert delivery.attempt_log.get().error == "HTTP 500"
    assert Schedule.objects.filter(func="builds.notifications.tasks.send_due").exists()
    time.sleep(max(0.0, (delivery.next_attempt_at - timezone.now()).total_seconds()) + 0.1)
    scheduler()  # what the cluster's scheduler does every 30 s

    first, second = receiver.wait_for(2)
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert second.body == first.body
    assert second.signed_by(SECRET)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 200]


def test_retries_back_off_and_honour_retry_after(staff_api, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SEC = 5
    subscribe(staff_api, receiver.url, ["job.completed"])
    receiver.answers = [503]

    build("slow-receiver", TargetFactory())

    receiver.wait_for(1)
    delivery = Delivery.objects.get()
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert delivery.status == "retrying"
    assert 2 < wait <= 5.5  # the first backoff step: 5 s with jitter


def test_redeliver_sends_a_delivered_message_again(staff_api, receiver):
    subscribe(staff_api, receiver.url, ["job.completed"])
    build("again", TargetFactory())
    (first,) = receiver.wait_for(1)
    delivery = Delivery.objects.get()

    response = staff_api.post(f"/api/deliveries/{delivery.pk}/redeliver")

    assert response.status_code == 200
    first, second = receiver.wait_for(2)
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    detail = staff_api.get(f"/api/deliveries/{delivery.pk}").json()
    assert [a["number"] for a in detail["attempts_log"]] == [1, 2]
    assert detail["payload"]["type"] == "job.completed"
    assert all(a["latency_ms"] >= 0 for a in detail["attempts_log"])


def test_a_subscription_that_keeps_failing_is_disabled_with_a_notice(
    staff_api, receiver, settings, admin_client
):
    settings.WEBHOOK_DISABLE_AFTER = 3
    made = subscribe(staff_api, receiver.url, ["job.completed"])
    receiver.answers = [500] * 10
    target = TargetFactory()

    for n in range(3):
        build(f"down-{n}", target)

    subscription = Subscription.objects.get(pk=made["id"])
    assert subscription.active is False
    assert "3 failed attempts in a row" in subscription.disabled_reason
    assert "HTTP 500" in subscription.disabled_reason
    build("after-disable", target)
    assert len(receiver.received) == 3  # nothing more is sent
    dashboard = admin_client.get("/").content.decode()
    assert f"Notifications to {receiver.url} are off" in dashboard
    listed = staff_api.get(f"/api/subscriptions/{made['id']}").json()
    assert listed["active"] is False
    assert listed["disabled_reason"]

    enabled = staff_api.patch(f"/api/subscriptions/{made['id']}", {"active": True}, format="json")
    assert enabled.json()["consecutive_failures"] == 0
    assert enabled.json()["disabled_reason"] == ""


def test_a_receiver_answering_410_gone_disables_the_subscription(staff_api, receiver):
    made = subscribe(staff_api, receiver.url, ["job.completed"])
    receiver.answers = [410]

    build("gone", TargetFactory())

    receiver.wait_for(1)
    assert Delivery.objects.get().status == "given_up"
    subscription = Subscription.objects.get(pk=made["id"])
    assert not subscription.active
    assert "410" in subscription.disabled_reason


def test_private_and_loopback_destinations_are_refused_unless_allowed(staff_api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    for url in (
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/hook",
    ):
        response = staff_api.post(
            "/api/subscriptions",
            {"kind": "webhook", "url": url, "events": ["job.failed"]},
            format="json",
        )
        assert response.status_code == 400, url
        assert "WEBHOOK_ALLOW_PRIVATE" in response.json()["error"], url
        assert response.json()["error"].startswith("url"), url
    assert not Subscription.objects.exists()


def test_a_destination_that_turned_private_is_not_sent_to(staff_api, receiver, settings):
    subscribe(staff_api, receiver.url, ["job.completed"])
    settings.WEBHOOK_ALLOW_PRIVATE = False  # as if its name now resolved to loopback

    build("rebound", TargetFactory())

    delivery = Delivery.objects.get()
    assert delivery.status == "given_up"
    assert "destination refused" in delivery.last_error
    assert receiver.received == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "webhook", "url": "ftp://example.com/x", "events": ["job.failed"]}, "url"),
        ({"kind": "webhook", "url": "https://example.com/x", "events": []}, "events"),
        ({"kind": "webhook", "url": "https://example.com/x", "events": ["job.exploded"]}, "events"),
        (
            {
                "kind": "webhook",
                "url": "https://example.com/x",
                "events": ["job.failed"],
                "secret": "hunter2",
            },
            "secret",
        ),
        (
            {
                "kind": "webhook",
                "url": "https://example.com/x",
                "events": ["job.failed"],
                "secret": "whsec_c2hvcnQ=",
            },
            "secret",
        ),
        ({"kind": "pager", "url": "https://example.com/x", "events": ["job.failed"]}, "kind"),
        ({"kind": "webhook", "events": ["job.failed"]}, "url"),
        ({"kind": "email", "email": "ops@example.com", "events": ["job.started"]}, "events"),
        ({"kind": "email", "email": "not an address", "events": ["input.built"]}, "email"),
        (
            {
                "kind": "webhook",
                "url": "https://example.com/x",
                "events": ["job.failed"],
                "target": "cp311-nonsense",
            },
            "target",
        ),
        (
            {
                "kind": "webhook",
                "url": "https://example.com/x",
                "events": ["job.failed"],
                "package": "no/slash",
            },
            "package",
        ),
    ],
)
def test_a_bad_subscription_is_a_400_naming_the_field(staff_api, body, field, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    response = staff_api.post("/api/subscriptions", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"].startswith(field), response.json()
    assert not Subscription.objects.exists()


def test_subscriptions_are_for_staff_only(client, automation_api):
    assert client.get("/api/subscriptions").status_code == 401
    assert automation_api.get("/api/subscriptions").status_code == 403
    made = automation_api.post(
        "/api/subscriptions",
        {"kind": "email", "email": "a@example.com", "events": ["input.built"]},
        format="json",
    )
    assert made.status_code == 403
    assert automation_api.get("/api/deliveries").status_code == 403


def test_a_generated_secret_is_shown_once_in_standard_webhooks_form(staff_api, receiver):
    response = staff_api.post(
        "/api/subscriptions",
        {"kind": "webhook", "url": receiver.url, "events": ["job.completed"]},
        format="json",
    )

    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    build("with-made-secret", TargetFactory())
    (delivered,) = receiver.wait_for(1)
    assert delivered.signed_by(secret)


def test_target_and_package_filters_pick_the_events(staff_api, receiver):
    s390x = TargetFactory(platform_tag="manylinux_2_17_s390x")
    x86 = TargetFactory(platform_tag="manylinux_2_17_x86_64")
    subscribe(
        staff_api,
        receiver.url,
        ["job.completed"],
        target="cp311-manylinux_2_17_s390x",
        package="Wanted_Pkg",
    )

    build("wanted-pkg", x86)
    build("other", s390x)
    build("wanted-pkg", s390x)

    (only,) = receiver.wait_for(1)
    assert only.payload["data"]["job"]["target"] == "cp311-manylinux_2_17_s390x"
    assert only.payload["data"]["job"]["name"] == "wanted-pkg"
    time.sleep(0.2)
    assert len(receiver.received) == 1


def test_an_input_is_told_built_once_when_its_last_job_ends(staff_api, receiver):
    subscribe(staff_api, receiver.url, ["input.built", "input.failed"])
    target = TargetFactory()
    plan = PlanFactory(target=target, dag=dag(("alpha", "1.0", "build"), ("beta", "2.0", "build")))
    link = PlanInputFactory(plan=plan, input__status=PendingInput.Status.QUEUED)

    build("alpha", target)
    assert receiver.received == []  # beta still to come
    build("beta", target, version="2.0")

    (told,) = receiver.wait_for(1)
    assert told.event == "input.built"
    data = told.payload["data"]
    assert data["input"]["id"] == link.input_id
    assert data["plan"]["id"] == plan.pk
    assert data["jobs"] == {"built": 2}
    assert data["failed"] == []
    time.sleep(0.2)
    assert len(receiver.received) == 1


def test_an_input_with_a_failed_job_is_told_failed_with_what_failed(staff_api, receiver):
    subscribe(staff_api, receiver.url, ["input.built", "input.failed"])
    target = TargetFactory()
    plan = PlanFactory(target=target, dag=dag(("alpha", "1.0", "build"), ("beta", "2.0", "build")))
    PlanInputFactory(plan=plan, input__status=PendingInput.Status.QUEUED)

    build("alpha", target)
    build("beta", target, version="2.0", succeed=False)

    (told,) = receiver.wait_for(1)
    assert told.event == "input.failed"
    (failed,) = told.payload["data"]["failed"]
    assert (failed["name"], failed["version"], failed["status"]) == ("beta", "2.0", "failed")


def test_nothing_is_told_of_a_change_that_rolled_back(staff_api, receiver):
    subscribe(staff_api, receiver.url, ["job.started"])
    target = TargetFactory()
    job, _ = build_queue.enqueue("undone", "1.0", target, actor="test")
    build_queue.claim(WORKER, max_n=1, target_ids=[target.pk])

    def crash_before_commit() -> None:
        with transaction.atomic():
            build_queue.start_building(job.pk, WORKER)
            raise RuntimeError("the worker crashed before the commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()

    time.sleep(0.2)
    assert receiver.received == []
    assert not Delivery.objects.exists()


def test_deliveries_are_listed_with_their_last_outcome(staff_api, receiver):
    made = subscribe(staff_api, receiver.url, ["job.started", "job.completed"])
    build("listed", TargetFactory())
    receiver.wait_for(2)

    listed = staff_api.get("/api/deliveries", {"subscription": made["id"]}).json()

    rows = listed["results"]
    assert {row["event"] for row in rows} == {"job.started", "job.completed"}
    assert all(row["status"] == "delivered" and row["last_status_code"] == 200 for row in rows)
    assert staff_api.get("/api/deliveries", {"colour": "red"}).status_code == 400
    old = Delivery.objects.first()
    assert old is not None
    assert old.created_at > timezone.now() - timedelta(minutes=1)


def test_a_failed_planning_reaches_a_subscription_for_one_of_its_packages(staff_api, receiver):
    subscribe(staff_api, receiver.url, ["input.failed"], package="six")
    pending = PendingInputFactory(
        status=PendingInput.Status.PLANNING,
        parsed={"requirements": [{"line": 1, "requirement": "six==1.16.0", "name": "six"}]},
    )

    pending.transition_to(PendingInput.Status.FAILED, error="no six for this target")

    (told,) = receiver.wait_for(1)
    assert told.event == "input.failed"
    assert told.payload["data"]["input"]["error"] == "no six for this target"
