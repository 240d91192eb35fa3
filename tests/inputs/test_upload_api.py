"""POST /api/requirements/upload: multipart in, the stored input (or a one-line 4xx) out."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inputs.models import PendingInput
from tests.conftest import stored_files

pytestmark = pytest.mark.django_db
URL = "/api/requirements/upload"


def _file(content: bytes, name: str = "requirements.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")


def test_staff_upload_a_file_and_get_the_stored_input(admin_client, settings, storage_dir):
    settings.AUTO_PLAN = False
    response = admin_client.post(
        URL,
        {
            "file": _file(b"six==1.16.0\n"),
            "platform_tag": "manylinux_2_17_s390x",
            "priority": "high",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["created"] is True
    assert body["input"]["status"] == "pending"
    assert body["input"]["priority"] == "high"
    assert body["input"]["platform_tag"] == "manylinux_2_17_s390x"

    again = admin_client.post(
        URL, {"file": _file(b"six==1.16.0\n"), "platform_tag": "manylinux_2_17_s390x"}
    )
    assert again.status_code == 200
    assert again.json()["created"] is False


def test_a_worker_token_may_upload(client, settings, storage_dir):
    settings.WORKER_TOKEN = "t0ken"
    response = client.post(URL, {"file": _file(b"six\n")}, HTTP_X_WORKER_TOKEN="t0ken")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "file: No file was submitted."),
        (
            {"file": _file(b"six\n-r x.txt\n")},
            "requirements.txt: line 2: includes (-r) are not allowed",
        ),
        ({"file": _file(b"six\n"), "priority": "urgent"}, "priority:"),
        ({"file": _file(b"six\n"), "overrides": "{nope"}, "overrides: not valid JSON"),
        ({"file": _file(b"six\n"), "platform_tag": "win32"}, "not a Linux platform tag"),
    ],
)
def test_bad_uploads_get_a_400_naming_the_problem_and_store_nothing(
    admin_client, data, message, storage_dir
):
    response = admin_client.post(URL, data)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert PendingInput.objects.count() == 0
    assert stored_files(storage_dir) == []


def test_anonymous_and_wrong_token_uploads_are_refused(client, settings, storage_dir):
    settings.WORKER_TOKEN = "right"
    anonymous = client.post(URL, {"file": _file(b"six\n")})
    assert anonymous.status_code == 401
    assert "X-Worker-Token" in anonymous.json()["error"]
    wrong = client.post(URL, {"file": _file(b"six\n")}, HTTP_X_WORKER_TOKEN="wrong")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid worker token"
    assert PendingInput.objects.count() == 0
