"""Who may call what: open or closed reads, API tokens for automation, staff for operator
actions, the worker token for workers, CSRF on session writes, and upload throttling."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import BuildJobFactory

pytestmark = pytest.mark.django_db


def _requirements(name: str = "requirements.txt", text: str = "six==1.16.0\n") -> dict[str, object]:
    return {"file": SimpleUploadedFile(name, text.encode())}


def test_reads_need_a_credential_by_default_and_the_setting_opens_them(
    client, settings, automation_api
):
    refused = client.get("/api/builds")
    assert refused.status_code == 401
    assert "Authorization: Token" in refused.json()["error"]
    assert automation_api.get("/api/builds").status_code == 200
    settings.API_READS_OPEN = True
    assert client.get("/api/builds").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/api/pending-inputs", "/api/logs/search?q=error", "/api/artifacts", "/api/history"],
)
def test_inputs_logs_and_uploaders_are_not_for_anonymous_readers(client, path):
    assert client.get(path).status_code == 401


def test_the_package_index_stays_public(client, tmp_path, storage_dir):
    assert client.get("/simple/").status_code == 200


def test_every_write_needs_a_credential_and_says_which(client):
    response = client.post("/api/queue/enqueue", {"name": "six", "version": "1.16.0"})
    assert response.status_code == 401
    assert "X-Worker-Token" in response.json()["error"]


def test_an_automation_token_may_upload_but_not_operate(automation_api, settings):
    settings.AUTO_PLAN = False
    upload = automation_api.post("/api/requirements/upload", _requirements(), format="multipart")
    assert upload.status_code == 201
    refused = automation_api.post(
        "/api/queue/enqueue", {"name": "six", "version": "1.16.0"}, format="json"
    )
    assert refused.status_code == 403
    assert refused.json() == {"error": "this action is for staff users"}


def test_a_staff_token_may_operate(staff_api):
    response = staff_api.post(
        "/api/queue/enqueue", {"name": "six", "version": "1.16.0"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["status"] == "pending"


def test_an_api_token_may_be_sent_as_a_bearer_token():
    user = User.objects.create_user("ci-operator", password="x", is_staff=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    response = api.post("/api/queue/enqueue", {"name": "six", "version": "1.16.0"}, format="json")
    assert response.status_code == 201
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-key")
    assert api.get("/api/builds").status_code == 401


def test_a_wrong_token_is_refused_with_the_reason(settings):
    settings.WORKER_TOKEN = "right"
    api = APIClient()
    api.credentials(HTTP_X_WORKER_TOKEN="wrong")
    response = api.post("/api/build-queue/pop?worker=w")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid worker token"}
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    response = api.get("/api/builds")
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid token."}


def test_the_worker_token_in_a_url_is_not_a_credential(client, settings):
    settings.WORKER_TOKEN = "right"
    response = client.post("/api/build-queue/pop?worker=w&token=right")
    assert response.status_code == 401
    assert client.get("/api/builds?token=right").status_code == 401


def test_worker_endpoints_refuse_automation_users(automation_api):
    response = automation_api.post("/api/build-queue/pop?worker=w")
    assert response.status_code == 403
    assert "workers" in response.json()["error"]


def test_a_staff_session_write_without_csrf_is_refused():
    User.objects.create_user("admin", password="pw", is_staff=True)
    job = BuildJobFactory()
    browser = APIClient(enforce_csrf_checks=True)
    assert browser.login(username="admin", password="pw")
    refused = browser.post(f"/api/builds/{job.pk}/cancel")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]
    job.refresh_from_db()
    assert job.status == "pending"


def test_uploads_are_throttled_per_caller_with_a_clear_answer(automation_api, settings):
    settings.AUTO_PLAN = False
    settings.UPLOAD_THROTTLE_RATE = "2/min"
    statuses = [
        automation_api.post(
            "/api/requirements/upload",
            _requirements(f"r{i}.txt", f"six=={i}.0\n"),
            format="multipart",
        ).status_code
        for i in range(3)
    ]
    assert statuses == [201, 201, 429]
    third = automation_api.post("/api/requirements/upload", _requirements(), format="multipart")
    assert "throttled" in third.json()["error"].lower()
    assert third.headers["Retry-After"]


def test_workers_are_not_throttled(worker_api, settings):
    settings.AUTO_PLAN = False
    settings.UPLOAD_THROTTLE_RATE = "1/min"
    statuses = {
        worker_api.post(
            "/api/requirements/upload",
            _requirements(f"w{i}.txt", f"six=={i}.0\n"),
            format="multipart",
        ).status_code
        for i in range(3)
    }
    assert statuses == {201}


def test_staff_can_browse_the_api_in_a_browser(admin_client):
    page = admin_client.get("/api/builds", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert "Django REST framework" in page.content.decode()
