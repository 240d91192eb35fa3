"""/api/settings: operators change auto_plan, auto_build, pool sizes, the default target and
the strategy while the refinery runs, and the running code follows."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from builds import tasks as build_tasks
from builds.models import BuildJob
from inputs.models import PendingInput
from inputs.plan_queue import claim_for_planning, enqueue_plan
from plans.planner import plan_input
from refinery import runtime_settings
from tests.conftest import queued_tasks
from tests.factories import PendingInputFactory

pytestmark = pytest.mark.django_db


def test_settings_show_each_value_with_its_environment_default(automation_api, settings):
    settings.AUTO_BUILD = True
    body = automation_api.get("/api/settings").json()
    assert body["values"]["auto_build"] is True
    entry = body["settings"]["auto_build"]
    assert entry["default"] is True
    assert entry["overridden"] is False
    assert set(body["values"]) == set(runtime_settings.SETTINGS)


def test_an_operator_changes_settings_and_null_restores_the_environment(staff_api, settings):
    settings.BUILD_POOL_SIZE = 2
    changed = staff_api.patch("/api/settings", {"build_pool_size": 7}, format="json")
    assert changed.status_code == 200
    assert changed.json()["values"]["build_pool_size"] == 7
    assert changed.json()["settings"]["build_pool_size"]["updated_by"] == "operator"
    assert runtime_settings.value("build_pool_size") == 7
    restored = staff_api.put("/api/settings", {"build_pool_size": None}, format="json")
    assert restored.json()["values"]["build_pool_size"] == 2
    assert restored.json()["settings"]["build_pool_size"]["overridden"] is False


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"auto_biuld": True}, "auto_biuld: not a runtime setting"),
        ({"auto_build": "yes"}, "auto_build: expected true or false, got 'yes'"),
        ({"build_pool_size": 0}, "build_pool_size: expected an integer from 1 to 256, got 0"),
        ({"upgrade_strategy": "newest"}, "upgrade_strategy: expected 'pinned' or 'eager'"),
        ({"platform_tag": "win_amd64"}, "platform_tag: "),
        ({}, "no settings given"),
    ],
)
def test_a_bad_setting_is_refused_by_name_and_nothing_changes(staff_api, change, error):
    before = staff_api.get("/api/settings").json()["values"]
    response = staff_api.patch(
        "/api/settings", {**change, "plan_pool_size": 9} if change else {}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert staff_api.get("/api/settings").json()["values"] == before


def test_workers_read_settings_but_cannot_change_them(worker_api):
    assert worker_api.get("/api/settings").status_code == 200
    assert (
        worker_api.patch("/api/settings", {"auto_build": False}, format="json").status_code == 403
    )


def test_turning_auto_plan_off_leaves_the_next_upload_pending(staff_api, settings):
    settings.AUTO_PLAN = True
    staff_api.patch("/api/settings", {"auto_plan": False}, format="json")
    upload = staff_api.post(
        "/api/requirements/upload",
        {"file": SimpleUploadedFile("r.txt", b"six==1.16.0\n")},
        format="multipart",
    )
    assert upload.json()["input"]["status"] == "pending"


def test_the_default_target_of_uploads_follows_the_settings(staff_api, settings):
    settings.AUTO_PLAN = False
    staff_api.patch(
        "/api/settings",
        {"python_version": "3.12", "platform_tag": "manylinux_2_28_s390x"},
        format="json",
    )
    upload = staff_api.post(
        "/api/requirements/upload",
        {"file": SimpleUploadedFile("r.txt", b"six==1.16.0\n")},
        format="multipart",
    )
    assert upload.json()["input"]["python_version"] == "3.12"
    assert upload.json()["input"]["platform_tag"] == "manylinux_2_28_s390x"


# Transactional: reused wheels are fetched by threads with their own connections.
@pytest.mark.django_db(transaction=True)
@pytest.mark.network
def test_flipping_auto_build_changes_what_the_next_plan_does(
    staff_api, settings, django_capture_on_commit_callbacks
):
    """Against real PyPI: with auto_build off a saved plan enqueues nothing; on, it does."""
    settings.AUTO_BUILD = True
    settings.LOCAL_PLANNING = False
    parsed = {"requirements": [{"requirement": "six==1.16.0", "line": 1, "hashes": []}]}

    def plan_fresh_input(n: int) -> PendingInput:
        pending = PendingInputFactory(
            parsed=parsed,
            original_filename=f"r{n}.txt",
            python_version="3.11",
            platform_tag=settings.PLATFORM_TAG,
        )
        enqueue_plan(pending, dispatch=False)
        claim_for_planning(pending.pk, "test-worker")
        with django_capture_on_commit_callbacks(execute=True):
            plan_input(pending.pk, "test-worker")
        pending.refresh_from_db()
        return pending

    staff_api.patch("/api/settings", {"auto_build": False}, format="json")
    assert plan_fresh_input(1).status == "planned"
    assert "builds.tasks.enqueue_plan_builds" not in [t["func"] for t in queued_tasks()]

    staff_api.patch("/api/settings", {"auto_build": True}, format="json")
    second = plan_fresh_input(2)
    assert queued_tasks()[-1]["func"] == "builds.tasks.enqueue_plan_builds"
    build_tasks.enqueue_plan_builds(queued_tasks()[-1]["args"][0])
    second.refresh_from_db()
    assert second.status == "queued"
    assert BuildJob.objects.get(name="six").status == "reused"
