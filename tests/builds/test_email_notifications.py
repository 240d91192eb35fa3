"""Email subscriptions: one plain-text email per input outcome (not one per job) and one per
regression, sent through Django's SMTP backend to a real SMTP server, retried when the
server is down."""

from __future__ import annotations

import socket

import pytest
from django_q.conf import Conf

from builds import queue as build_queue
from builds.models import Delivery
from inputs.models import PendingInput
from tests.factories import PlanFactory, PlanInputFactory, TargetFactory, dag
from tests.receivers import smtp_server

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = "mail-worker"


@pytest.fixture(autouse=True)
def tasks_run_inline(monkeypatch, settings):
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.PUBLIC_URL = "https://refinery.example"
    settings.DEFAULT_FROM_EMAIL = "Wheel Refinery <refinery@example.org>"


@pytest.fixture
def mailbox(settings):
    with smtp_server() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        yield server


def build(name: str, version: str, target, *, succeed: bool) -> None:
    build_queue.enqueue(name, version, target, actor="test")
    (job,) = build_queue.claim(WORKER, max_n=1, target_ids=[target.pk])
    build_queue.start_building(job.pk, WORKER)
    if succeed:
        build_queue.complete(job.pk, WORKER)
    else:
        build_queue.fail(job.pk, WORKER, reason="build_error", error="gcc: exit 1", retryable=False)


def test_an_input_outcome_is_one_email_that_reads_well(staff_api, mailbox):
    made = staff_api.post(
        "/api/subscriptions",
        {"kind": "email", "email": "ops@example.org", "events": ["input.built", "input.failed"]},
        format="json",
    )
    assert made.status_code == 201, made.json()
    target = TargetFactory(platform_tag="manylinux_2_17_s390x")
    plan = PlanFactory(
        target=target,
        dag=dag(
            ("numpy", "2.1.0", "build"), ("cffi", "1.17.1", "build"), ("six", "1.16.0", "build")
        ),
    )
    link = PlanInputFactory(
        plan=plan,
        input__status=PendingInput.Status.QUEUED,
        input__original_filename="requirements-prod.txt",
        input__platform_tag="manylinux_2_17_s390x",
    )

    build("six", "1.16.0", target, succeed=True)
    build("cffi", "1.17.1", target, succeed=True)
    build("numpy", "2.1.0", target, succeed=False)

    (message,) = mailbox.wait_for(1)
    assert message["To"] == "ops@example.org"
    assert message["From"] == "Wheel Refinery <refinery@example.org>"
    assert message["Subject"] == (
        "[refinery] requirements-prod.txt (cp311-manylinux_2_17_s390x): failed"
    )
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert body.startswith(
        "requirements-prod.txt for cp311-manylinux_2_17_s390x: failed, 1 of 3 packages "
        "without a wheel.\n"
    )
    assert "Jobs: 2 built, 1 failed." in body
    assert "  numpy 2.1.0: failed (build_error)  https://refinery.example/builds/" in body
    assert f"Plan {plan.pk} (3 packages): https://refinery.example/plans/{plan.pk}/" in body
    assert "{" not in body  # prose, not JSON
    assert len(mailbox.messages) == 1  # one email for the input, none per job
    assert link.input.pk in [
        d.notification.payload["data"]["input"]["id"] for d in Delivery.objects.all()
    ]


def test_a_regression_is_emailed_with_the_version_that_built(staff_api, mailbox):
    staff_api.post(
        "/api/subscriptions",
        {"kind": "email", "email": "ops@example.org", "events": ["job.regressed"]},
        format="json",
    )
    target = TargetFactory()
    build("lxml", "5.2.0", target, succeed=True)
    build("lxml", "5.3.0", target, succeed=False)

    (message,) = mailbox.wait_for(1)
    assert message["Subject"] == f"[refinery] lxml 5.3.0 regressed on {target}"
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert "lxml 5.3.0 failed to build for" in body
    assert "Version 5.2.0 built before on " in body
    assert "Error: gcc: exit 1" in body


def test_per_job_events_are_not_for_email(staff_api):
    response = staff_api.post(
        "/api/subscriptions",
        {"kind": "email", "email": "ops@example.org", "events": ["input.built", "job.completed"]},
        format="json",
    )
    assert response.status_code == 400
    assert "one email per input outcome" in response.json()["error"]


def test_an_smtp_server_that_is_down_is_retried_and_logged(staff_api, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed
    settings.WEBHOOK_RETRY_BASE_SEC = 60
    staff_api.post(
        "/api/subscriptions",
        {"kind": "email", "email": "ops@example.org", "events": ["job.regressed"]},
        format="json",
    )
    target = TargetFactory()
    build("pillow", "10.0.0", target, succeed=True)
    build("pillow", "10.0.0", target, succeed=False)

    delivery = Delivery.objects.get()
    assert delivery.status == "retrying"
    assert "ConnectionRefusedError" in delivery.last_error
    assert delivery.attempt_log.get().error == delivery.last_error
