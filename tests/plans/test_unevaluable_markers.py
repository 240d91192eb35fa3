"""A marker that parses but cannot be evaluated (``python_version ~= '1'``) is a clear
failure with its cause: refused with its line at upload, and when an upstream package
carries one, the input fails at once with the package named (no lease left to lapse)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from inputs import plan_queue
from inputs.models import PendingInput
from inputs.services import UploadError, upload_requirements
from plans import tasks as plan_tasks
from tests.local_index import local_index
from tests.wheels import make_wheel

pytestmark = pytest.mark.django_db

BAD = b"six==1.16.0\nrequests; python_version ~= '1'\n"


def test_an_upload_with_an_unevaluable_marker_is_refused_with_its_line(storage_dir):
    with pytest.raises(UploadError) as refused:
        upload_requirements(BAD, "reqs.txt")
    assert str(refused.value).startswith("reqs.txt: line 2: the marker")
    assert "cannot be evaluated" in str(refused.value)
    assert PendingInput.objects.count() == 0


def test_the_api_answers_400_naming_the_line(automation_api, storage_dir):
    response = automation_api.post(
        "/api/requirements/upload",
        {"file": SimpleUploadedFile("r.txt", BAD)},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("r.txt: line 2: the marker")


def test_the_upload_command_says_so_in_one_line(tmp_path, storage_dir):
    path = tmp_path / "r.txt"
    path.write_bytes(BAD)
    with pytest.raises(CommandError, match=r"^r\.txt: line 2: the marker .* cannot be evaluated"):
        call_command("upload", str(path))


def test_an_upstream_dependency_with_one_fails_the_input_at_once_naming_it(
    settings, storage_dir, tmp_path
):
    wheel = make_wheel(
        tmp_path,
        "oddmarker",
        "1.0",
        requires_dist=["six; python_version ~= '1'"],
    )
    settings.AUTO_PLAN = settings.AUTO_BUILD = False
    settings.INDEX_CACHE_DIR = tmp_path / "index-cache"
    settings.EXTRA_INDEX_URL = []
    with local_index([wheel]) as url:
        settings.INDEX_URL = url
        pending = upload_requirements(b"oddmarker==1.0\n", "r.txt").pending
        plan_queue.enqueue_plan(pending)
        outcome = plan_tasks.plan_input(pending.pk)

    pending.refresh_from_db()
    assert outcome == f"input {pending.pk}: planning failed"
    assert pending.status == PendingInput.Status.FAILED
    assert "oddmarker==1.0 requires 'six; python_version ~= \"1\"'" in pending.error
    assert "cannot be evaluated" in pending.error
    assert pending.lease_owner == ""
