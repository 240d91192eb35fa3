"""Yanking and unyanking through the API and the admin, reflected in the index."""

from __future__ import annotations

import pytest

from builds.models import Artifact
from tests.factories import ArtifactFactory, TargetFactory
from tests.wheels import make_wheel

pytestmark = pytest.mark.django_db
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def wheel(settings):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    return ArtifactFactory(target=target, name="demo", filename="demo-1.0-py3-none-any.whl")


def test_staff_yank_and_unyank_a_file_through_the_api(
    admin_client, wheel, django_capture_on_commit_callbacks
):
    admin_client.get("/simple/demo/")  # published before the yank
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/api/artifacts/{wheel.pk}/yank",
            {"reason": "segfaults"},
            content_type="application/json",
        )
    assert response.status_code == 200
    assert response.json()["changed"] is True
    assert response.json()["artifact"]["yanked_reason"] == "segfaults"
    page = admin_client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()
    assert page["files"][0]["yanked"] == "segfaults"
    assert 'data-yanked="segfaults"' in admin_client.get("/simple/demo/").content.decode()

    again = admin_client.post(
        f"/api/artifacts/{wheel.pk}/yank", {}, content_type="application/json"
    )
    assert again.json()["changed"] is False

    with django_capture_on_commit_callbacks(execute=True):
        undone = admin_client.post(f"/api/artifacts/{wheel.pk}/unyank")
    assert undone.json()["changed"] is True
    assert admin_client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()["files"][0]["yanked"] is False


def test_yanking_needs_staff(client, wheel, settings):
    settings.WORKER_TOKEN = "t0ken"
    assert client.post(f"/api/artifacts/{wheel.pk}/yank").status_code == 401
    worker = client.post(f"/api/artifacts/{wheel.pk}/yank", HTTP_X_WORKER_TOKEN="t0ken")
    assert worker.status_code == 403
    assert Artifact.objects.get(pk=wheel.pk).yanked is False


def test_yanking_an_unknown_file_is_a_404(admin_client, wheel):
    assert admin_client.post("/api/artifacts/999999/yank").status_code == 404


def test_the_admin_yank_action_yanks_and_the_index_shows_it(
    admin_client, wheel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/builds/artifact/",
            {"action": "yank_action", "_selected_action": [wheel.pk]},
            follow=True,
        )
    assert "yanked 1 file(s)" in " ".join(str(m) for m in response.context["messages"])
    assert admin_client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()["files"][0]["yanked"]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/builds/artifact/", {"action": "unyank_action", "_selected_action": [wheel.pk]}
        )
    assert Artifact.objects.get(pk=wheel.pk).yanked is False


def test_the_admin_upload_view_stores_a_wheel(admin_client, wheel, tmp_path, storage_dir):
    path = make_wheel(tmp_path, "uploaded")
    with path.open("rb") as handle:
        response = admin_client.post(
            "/admin/builds/artifact/upload/",
            {"file": handle, "target": "cp311-manylinux_2_17_x86_64"},
            follow=True,
        )
    assert response.status_code == 200
    assert "stored uploaded-1.0-py3-none-any.whl" in " ".join(
        str(m) for m in response.context["messages"]
    )
    assert Artifact.objects.get(name="uploaded").origin == "uploaded"
