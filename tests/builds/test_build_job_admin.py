"""In the admin, what must not change is read-only, active work cannot be deleted, and times
show seconds; a build job's page carries the live log viewer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from builds.models import BuildEvent, BuildJob
from inputs.models import PendingInput
from tests.factories import BuildJobFactory, PendingInputFactory

pytestmark = pytest.mark.django_db

Status = BuildJob.Status


def test_a_jobs_name_version_and_target_cannot_be_edited(admin_client):
    job = BuildJobFactory(name="six", version="1.16.0")
    body = admin_client.get(f"/admin/builds/buildjob/{job.pk}/change/").content.decode()
    assert 'name="name"' not in body
    assert 'name="version"' not in body
    assert 'name="target"' not in body
    assert 'name="priority"' in body


def test_changing_priority_in_the_admin_goes_through_the_queue(admin_client):
    job = BuildJobFactory()
    inline = {"events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"}
    admin_client.post(
        f"/admin/builds/buildjob/{job.pk}/change/", {"priority": "2", "_save": "1", **inline}
    )
    job.refresh_from_db()
    assert job.priority == 2
    assert BuildEvent.objects.get(job=job).message == "priority normal -> high"


def test_an_active_job_cannot_be_deleted_alone_or_in_a_batch_but_a_finished_one_can(admin_client):
    active = BuildJobFactory(status=Status.BUILDING)
    done = BuildJobFactory(status=Status.FAILED)
    assert admin_client.get(f"/admin/builds/buildjob/{active.pk}/delete/").status_code == 403
    both = {"action": "delete_selected", "_selected_action": [active.pk, done.pk], "post": "yes"}
    assert admin_client.post("/admin/builds/buildjob/", both).status_code == 403
    assert BuildJob.objects.count() == 2
    finished = {"action": "delete_selected", "_selected_action": [done.pk], "post": "yes"}
    admin_client.post("/admin/builds/buildjob/", finished)
    assert list(BuildJob.objects.values_list("pk", flat=True)) == [active.pk]


def test_an_inputs_target_is_read_only_and_one_being_planned_cannot_be_deleted(admin_client):
    pending = PendingInputFactory(status=PendingInput.Status.PLANNING)
    body = admin_client.get(f"/admin/inputs/pendinginput/{pending.pk}/change/").content.decode()
    assert 'name="platform_tag"' not in body
    assert 'name="python_version"' not in body
    assert admin_client.get(f"/admin/inputs/pendinginput/{pending.pk}/delete/").status_code == 403


def test_event_times_show_seconds_and_the_time_since_the_previous_event(admin_client):
    job = BuildJobFactory(status=Status.FAILED)
    start = timezone.now().replace(microsecond=0)
    BuildEvent.objects.create(job=job, to_status="leased", created_at=start)
    BuildEvent.objects.create(job=job, to_status="failed", created_at=start + timedelta(seconds=42))
    body = admin_client.get(f"/admin/builds/buildjob/{job.pk}/change/").content.decode()
    assert start.strftime("%Y-%m-%d %H:%M:%S") in body
    assert "42.0s" in body


def test_the_build_job_page_in_the_admin_has_the_log_viewer(admin_client):
    job = BuildJobFactory()
    body = admin_client.get(f"/admin/builds/buildjob/{job.pk}/change/").content.decode()
    assert f'data-socket="/ws/builds/{job.pk}/log/"' in body
    assert "refinery/log-viewer.js" in body
