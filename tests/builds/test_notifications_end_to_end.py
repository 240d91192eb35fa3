"""Notifications and metrics on the running stack: a webhook subscribed through the API
(the documented contract) hears a small set refined by the cluster — planned, each build
started and completed, the input built — every delivery signed; and /metrics on the web
server counts what the cluster's processes did."""

from __future__ import annotations

import time

import httpx
import pytest
from django.contrib.auth.models import User
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from builds.models import BuildJob
from inputs.models import PendingInput
from tests.receivers import webhook_receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REQUIREMENTS = b"docopt==0.6.2\nsix==1.16.0\n"  # docopt has no wheel: it is built
EVENTS = [
    "input.planned",
    "input.built",
    "input.failed",
    "job.started",
    "job.completed",
    "job.failed",
    "job.regressed",
]


def test_a_refined_set_is_told_to_a_subscriber_in_order_and_counted(
    settings, start_refinery, tmp_path
):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    operator = User.objects.create_user("ops", password="x", is_staff=True)
    token = Token.objects.create(user=operator).key
    base = start_refinery(
        cluster=True,
        env={
            "AUTO_PLAN": "true",
            "AUTO_BUILD": "true",
            "RUNNER": "local",
            "WEBHOOK_ALLOW_PRIVATE": "true",
        },
    )
    headers = {"Authorization": f"Token {token}"}

    with webhook_receiver() as receiver:
        made = httpx.post(
            f"{base}/api/subscriptions",
            json={"kind": "webhook", "url": receiver.url, "secret": SECRET, "events": EVENTS},
            headers=headers,
            timeout=30,
        )
        assert made.status_code == 201, made.text
        assert isinstance(made.json()["id"], int)
        uploaded = httpx.post(
            f"{base}/api/requirements/upload",
            files={"file": ("requirements.txt", REQUIREMENTS)},
            headers=headers,
            timeout=30,
        )
        assert uploaded.status_code == 201, uploaded.text

        deadline = time.monotonic() + 420
        while time.monotonic() < deadline and not {"input.built", "input.failed"} & set(
            receiver.events()
        ):
            assert PendingInput.objects.get().status != "failed", PendingInput.objects.get().error
            time.sleep(1)
        time.sleep(1)  # anything sent after the outcome would be out of order
        delivered = list(receiver.received)

    events = [(d.event, d.payload["data"].get("job", {}).get("name")) for d in delivered]
    assert events == [
        ("input.planned", None),
        ("job.started", "docopt"),
        ("job.completed", "docopt"),
        ("input.built", None),
    ], (events, dict(BuildJob.objects.values_list("name", "status")))
    assert all(d.signed_by(SECRET) for d in delivered)
    assert len({d.headers["webhook-id"] for d in delivered}) == len(delivered)
    built = delivered[-1].payload["data"]
    assert built["jobs"]["built"] == 1  # docopt; six and its build's setuptools are reused
    assert set(built["jobs"]) <= {"built", "reused", "cached"}
    assert built["failed"] == []
    assert built["input"]["id"] == PendingInput.objects.get().pk

    deliveries = httpx.get(f"{base}/api/deliveries", headers=headers, timeout=30).json()
    assert {row["status"] for row in deliveries["results"]} == {"delivered"}

    scraped = httpx.get(f"{base}/metrics", timeout=30)
    assert scraped.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    target = (("target", "cp311-manylinux_2_17_x86_64"),)
    # Counted in the cluster's worker processes, served by the web server's.
    assert samples[("refinery_builds_total", (("outcome", "built"), ("reason", ""), *target))] == 1
    assert samples[("refinery_plan_duration_seconds_count", ())] == 1
    assert samples[("refinery_claims_total", (("outcome", "claimed"),))] >= 1
    assert samples[("refinery_notifications_total", (("event", "input.built"),))] == 1
    assert (
        samples[
            (
                "refinery_notification_deliveries_total",
                (("kind", "webhook"), ("outcome", "delivered")),
            )
        ]
        == 4
    )
    assert samples[("refinery_build_jobs", (("status", "built"), *target))] == 1
