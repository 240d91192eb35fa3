"""The pages' buttons and forms act through the same services as the admin and the API,
and a refused action says why without changing anything."""

from __future__ import annotations

import io

import pytest

from builds.models import Artifact, BuildEvent, BuildJob
from inputs.models import PendingInput
from inputs.priority import Priority
from tests.factories import BuildJobFactory, PendingInputFactory, PlanFactory, PlanInputFactory, dag
from tests.wheels import make_wheel

pytestmark = pytest.mark.django_db

Status = BuildJob.Status


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_uploading_requirements_from_the_inputs_page_stores_an_input(
    admin_client, storage_dir, settings
):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    upload = io.BytesIO(b"six==1.16.0\n")
    upload.name = "requirements.txt"
    response = admin_client.post(
        "/inputs/",
        {
            "file": upload,
            "python_version": "3.11",
            "platform_tag": "manylinux_2_17_x86_64",
            "priority": "1",
        },
        follow=True,
    )
    pending = PendingInput.objects.get()
    assert pending.original_filename == "requirements.txt"
    assert f"input {pending.pk} stored" in " ".join(_messages(response))


def test_a_bad_requirements_file_is_refused_with_its_line_and_nothing_is_stored(
    admin_client, storage_dir
):
    upload = io.BytesIO(b"six==1.16.0\nnot a requirement ===\n")
    upload.name = "bad.txt"
    response = admin_client.post(
        "/inputs/",
        {
            "file": upload,
            "python_version": "3.11",
            "platform_tag": "manylinux_2_17_x86_64",
            "priority": "1",
        },
    )
    assert response.status_code == 400
    assert "bad.txt: line 2" in response.content.decode()
    assert not PendingInput.objects.exists()


def test_uploading_a_wheel_from_the_inputs_page_publishes_it(admin_client, storage_dir, tmp_path):
    wheel = make_wheel(tmp_path, "demo", "1.0")
    with wheel.open("rb") as handle:
        response = admin_client.post(
            "/inputs/wheel", {"file": handle, "target": "cp311-manylinux_2_17_x86_64"}
        )
    assert response.status_code == 302
    assert response["Location"] == "/packages/demo/"
    assert Artifact.objects.get().filename == wheel.name


def test_a_wheel_that_fails_the_checks_is_refused_with_the_reason(
    admin_client, storage_dir, tmp_path
):
    wheel = make_wheel(tmp_path, "demo", "1.0", metadata_name="other")
    with wheel.open("rb") as handle:
        response = admin_client.post(
            "/inputs/wheel",
            {"file": handle, "target": "cp311-manylinux_2_17_x86_64", "next": "/inputs/"},
            follow=True,
        )
    assert any("demo-1.0-py3-none-any.whl" in m for m in _messages(response))
    assert not Artifact.objects.exists()


def test_the_plan_button_queues_a_pending_input_and_replans_a_planned_one(admin_client, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    pending = PendingInputFactory()
    planned = PlanInputFactory().input
    admin_client.post(f"/inputs/{pending.pk}/plan")
    admin_client.post(f"/inputs/{planned.pk}/plan")
    pending.refresh_from_db()
    planned.refresh_from_db()
    assert pending.status == PendingInput.Status.PLANNING
    assert planned.status == PendingInput.Status.PLANNING


def test_retry_cancel_and_prioritize_change_the_job_and_record_who_did_it(admin_client):
    failed = BuildJobFactory(status=Status.FAILED)
    waiting = BuildJobFactory()
    admin_client.post(f"/builds/{failed.pk}/action", {"action": "retry"})
    admin_client.post(f"/builds/{waiting.pk}/action", {"action": "prioritize", "priority": "3"})
    failed.refresh_from_db()
    waiting.refresh_from_db()
    assert failed.status == Status.PENDING
    assert waiting.priority == Priority.CRITICAL
    note = BuildEvent.objects.get(job=waiting)
    assert (note.actor, note.message) == ("page:admin", "priority normal -> critical")
    admin_client.post(f"/builds/{waiting.pk}/action", {"action": "cancel"})
    waiting.refresh_from_db()
    assert waiting.status == Status.CANCELLED


def test_a_refused_action_says_why_and_changes_nothing(admin_client):
    building = BuildJobFactory(status=Status.BUILDING)
    response = admin_client.post(
        f"/builds/{building.pk}/action",
        {"action": "prioritize", "priority": "3", "next": "/builds/"},
        follow=True,
    )
    assert any(
        "only waiting (pending or retry) jobs can be reprioritized" in m
        for m in _messages(response)
    )
    building.refresh_from_db()
    assert building.priority == Priority.NORMAL
    response = admin_client.post(
        f"/builds/{building.pk}/action", {"action": "explode"}, follow=True
    )
    assert any("action: Select a valid choice" in m for m in _messages(response))


def test_next_only_returns_to_pages_of_this_site(admin_client):
    job = BuildJobFactory(status=Status.FAILED)
    response = admin_client.post(
        f"/builds/{job.pk}/action", {"action": "retry", "next": "https://evil.example/"}
    )
    assert response["Location"] == f"/builds/{job.pk}/"


def test_enqueueing_one_node_from_the_plan_page_creates_its_job(admin_client):
    plan = PlanFactory(dag=dag(("markupsafe", "2.1.5", "build"), ("cython", "3.0.11", "build")))
    admin_client.post(f"/plans/{plan.pk}/enqueue", {"node": "markupsafe==2.1.5"})
    assert list(BuildJob.objects.values_list("name", flat=True)) == ["markupsafe"]
    response = admin_client.post(f"/plans/{plan.pk}/enqueue", {"node": "nope==1"}, follow=True)
    assert any("'nope==1' is not a node of plan" in m for m in _messages(response))
