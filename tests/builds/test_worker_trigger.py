"""The worker trigger: the local cluster is nudged, or a remote worker's webhook gets the
seeds' {"action": "drain"} with the worker token; smoke is a dry run."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from builds.models import BuildJob
from tests.conftest import queued_tasks
from tests.factories import BuildJobFactory

pytestmark = pytest.mark.django_db


def test_a_local_trigger_queues_the_clusters_drains(staff_api, settings):
    settings.WORKER_WEBHOOK_URL = None
    settings.LOCAL_PLANNING = True
    response = staff_api.post("/api/worker/trigger", {"action": "drain"}, format="json")
    assert response.status_code == 202
    assert response.json()["mode"] == "local"
    assert {t["func"] for t in queued_tasks()} == {
        "builds.tasks.drain_builds",
        "plans.tasks.drain_plan_queue",
    }


@pytest.fixture
def webhook():
    """A real HTTP server standing in for a remote worker's trigger endpoint."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"body": json.loads(body), "token": self.headers["X-Worker-Token"]})
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/trigger", received
    server.shutdown()


def test_a_webhook_trigger_posts_drain_with_the_worker_token(staff_api, settings, webhook):
    url, received = webhook
    settings.WORKER_WEBHOOK_URL = url
    settings.WORKER_TOKEN = "hook-token"
    response = staff_api.post("/api/worker/trigger", {}, format="json")
    assert response.json() == {"mode": "webhook", "detail": f"{url} answered 202"}
    assert received == [{"body": {"action": "drain"}, "token": "hook-token"}]
    assert queued_tasks() == []


def test_an_unreachable_webhook_is_a_502_naming_it(staff_api, settings):
    settings.WORKER_WEBHOOK_URL = "http://127.0.0.1:9/trigger"
    response = staff_api.post("/api/worker/trigger", {}, format="json")
    assert response.status_code == 502
    assert response.json()["error"].startswith("http://127.0.0.1:9/trigger: ConnectError")


def test_an_unknown_action_is_refused(staff_api):
    response = staff_api.post("/api/worker/trigger", {"action": "explode"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("action: ")


def test_smoke_reports_what_a_worker_would_find_and_claims_nothing(staff_api, settings):
    settings.RUNNER = "local"
    BuildJobFactory.create_batch(2)
    body = staff_api.post("/api/worker/smoke").json()
    assert body["runner"] == "local"
    assert body["due_builds"] == 2
    assert body["checks"]["database"]["ok"] is True
    assert set(BuildJob.objects.values_list("status", flat=True)) == {"pending"}
