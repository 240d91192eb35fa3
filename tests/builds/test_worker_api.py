"""The build queue as remote workers use it: pop (leases), status reports, log streaming,
the build environment's wheels and handing in built wheels. The lease decides: reports
from a worker that does not hold the job are refused with 409."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from builds.artifacts import cas_key
from builds.models import Artifact, BuildDependency, BuildJob, LogChunk
from tests.factories import ArtifactFactory, BuildJobFactory, PlanFactory, TargetFactory
from tests.wheels import make_wheel

pytestmark = pytest.mark.django_db

SDIST_SHA = "a" * 64


def _buildable(name: str = "demo-pkg", **extra: object) -> BuildJob:
    """A pending job whose plan records its sdist, as the planner would."""
    plan = PlanFactory(
        dag={
            "nodes": [
                {
                    "name": name,
                    "version": "1.0",
                    "action": "build",
                    "source": {
                        "kind": "sdist",
                        "url": f"https://files.example/{name}-1.0.tar.gz",
                        "sha256": SDIST_SHA,
                    },
                    "build_requires": ["setuptools>=61"],
                }
            ],
            "edges": [],
        }
    )
    return BuildJobFactory(name=name, version="1.0", plan=plan, target=plan.target, **extra)


def _pop(api, worker: str = "w1", **params: str):
    query = "&".join(f"{k}={v}" for k, v in {"worker": worker, **params}.items())
    return api.post(f"/api/build-queue/pop?{query}")


def _report(api, job: BuildJob, status: str, worker: str = "w1", **fields: object):
    body = {"job_id": job.pk, "worker": worker, "status": status, **fields}
    return api.post("/api/builds/status", body, format="json")


def test_pop_leases_jobs_with_everything_needed_to_build_them(worker_api):
    job = _buildable()
    response = _pop(worker_api, max="5")
    assert response.status_code == 200
    (claimed,) = response.json()["jobs"]
    assert claimed["id"] == job.pk
    assert claimed["attempt"] == 1
    assert claimed["sdist_url"] == "https://files.example/demo-pkg-1.0.tar.gz"
    assert claimed["sdist_sha256"] == SDIST_SHA
    assert claimed["build_requires"] == ["setuptools>=61"]
    assert claimed["target_platform"] == "manylinux_2_17_x86_64"
    job.refresh_from_db()
    assert (job.status, job.lease_owner, job.attempts) == ("leased", "worker/w1", 1)
    assert _pop(worker_api).json()["jobs"] == []


def test_pop_takes_only_the_architectures_the_worker_asks_for(worker_api):
    s390x = TargetFactory(platform_tag="manylinux_2_17_s390x")
    job = _buildable()
    BuildJob.objects.filter(pk=job.pk).update(target=s390x)
    assert _pop(worker_api, arch="x86_64").json()["jobs"] == []
    assert [j["id"] for j in _pop(worker_api, arch="s390x").json()["jobs"]] == [job.pk]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("max=0&worker=w", "max: '0' is not an integer from 1 to 100"),
        ("max=abc&worker=w", "max: 'abc' is not an integer"),
        ("max=1", "worker: the worker's id"),
        ("worker=w&arch=sparc", "arch: 'sparc' is not one of"),
    ],
)
def test_a_bad_pop_is_refused_by_parameter(worker_api, query, error):
    _buildable()
    response = worker_api.post(f"/api/build-queue/pop?{query}")
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert BuildJob.objects.get().status == "pending"


def test_a_worker_reports_building_then_built(worker_api):
    job = _buildable()
    _pop(worker_api)
    assert _report(worker_api, job, "building").json() == {"job_id": job.pk, "state": "building"}
    done = _report(worker_api, job, "built", message="stored abc")
    assert done.json()["state"] == "built"
    job.refresh_from_db()
    assert job.status == "built"
    assert job.lease_owner == ""


def test_a_failed_report_needs_its_reason_and_goes_to_retry(worker_api, settings):
    settings.REQUEUE_ON_FAILURE = True
    job = _buildable()
    _pop(worker_api)
    missing = _report(worker_api, job, "failed", error="boom")
    assert missing.status_code == 400
    assert missing.json()["error"] == "reason: a failed report needs its reason"
    failed = _report(worker_api, job, "failed", reason="build_error", error="gcc: boom")
    assert failed.json()["state"] == "retry"
    job.refresh_from_db()
    assert job.error == "gcc: boom"


def test_a_failure_report_with_an_overlong_error_is_refused_in_one_line(worker_api):
    job = _buildable()
    _pop(worker_api)
    refused = _report(worker_api, job, "failed", reason="build_error", error="x" * 20001)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "error: Ensure this field has no more than 20000 characters."
    }


def test_heartbeats_say_ok_and_tell_the_worker_when_its_job_was_cancelled(worker_api, staff_api):
    job = _buildable()
    _pop(worker_api)
    assert _report(worker_api, job, "heartbeat").json()["state"] == "ok"
    staff_api.post(f"/api/builds/{job.pk}/cancel")
    assert _report(worker_api, job, "heartbeat").json()["state"] == "cancelled"


def test_reports_from_a_worker_without_the_lease_are_refused(worker_api):
    job = _buildable()
    _pop(worker_api, worker="w1")
    refused = _report(worker_api, job, "built", worker="intruder")
    assert refused.status_code == 409
    assert refused.json()["error"] == (
        f"build job {job.pk} is leased and leased to worker/w1, not worker/intruder"
    )
    job.refresh_from_db()
    assert job.status == "leased"
    assert _report(worker_api, job, "built", worker="w1").status_code == 200


def test_a_released_job_goes_back_to_the_queue_with_its_attempt_refunded(worker_api):
    job = _buildable()
    _pop(worker_api)
    assert _report(worker_api, job, "released").json()["state"] == "pending"
    job.refresh_from_db()
    assert job.attempts == 0


def _chunk(api, job: BuildJob, seq: int, text: str, worker: str = "w1"):
    body = {"job_id": job.pk, "worker": worker, "attempt": 1, "seq": seq, "text": text}
    return api.post("/api/logs/stream", body, format="json")


def test_log_chunks_are_stored_in_order_and_a_resent_chunk_is_not_duplicated(worker_api):
    job = _buildable()
    _pop(worker_api)
    assert _chunk(worker_api, job, 0, "collecting\n").status_code == 201
    assert _chunk(worker_api, job, 1, "building wheel\n").status_code == 201
    resent = _chunk(worker_api, job, 1, "building wheel\n")
    assert resent.status_code == 200
    assert resent.json() == {"stored": False}
    texts = LogChunk.objects.filter(job=job).order_by("seq").values_list("text", flat=True)
    assert list(texts) == ["collecting\n", "building wheel\n"]


def test_log_chunks_from_a_stale_worker_are_refused(worker_api):
    job = _buildable()
    _pop(worker_api)
    assert _chunk(worker_api, job, 0, "x\n", worker="old-worker").status_code == 409
    assert not LogChunk.objects.exists()


def test_the_wheelhouse_lists_pins_and_our_wheels_with_their_urls(worker_api):
    job = _buildable()
    _pop(worker_api)
    BuildDependency.objects.create(job=job, name="setuptools", version="70.0.0")
    BuildDependency.objects.create(job=job, name="wheel", version="0.43.0")
    stored = ArtifactFactory(name="setuptools", version="70.0.0", target=job.target)
    body = worker_api.get(f"/api/builds/{job.pk}/wheelhouse?worker=w1").json()
    assert body["pins"] == ["setuptools==70.0.0", "wheel==0.43.0"]
    (wheel,) = body["wheels"]
    assert wheel["sha256"] == stored.sha256
    assert wheel["url"] == f"http://testserver/files/{stored.sha256}/{stored.filename}"
    assert worker_api.get(f"/api/builds/{job.pk}/wheelhouse?worker=other").status_code == 409


def test_a_built_wheel_is_checked_and_stored_as_the_jobs_artifact(worker_api, tmp_path):
    job = _buildable()
    _pop(worker_api)
    wheel = make_wheel(tmp_path, "demo_pkg", "1.0")
    response = worker_api.post(
        f"/api/builds/{job.pk}/wheel",
        {
            "file": SimpleUploadedFile(wheel.name, wheel.read_bytes()),
            "worker": "w1",
            "provenance": json.dumps({"runner": "local"}),
        },
        format="multipart",
    )
    assert response.status_code == 201
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert response.json() == {"sha256": digest}
    artifact = Artifact.objects.get(sha256=digest)
    assert (artifact.job_id, artifact.origin, artifact.provenance) == (
        job.pk,
        "built",
        # the worker's account, and the recipes with their origins as the server knows them
        {"runner": "local", "recipes": [], "recipe_origins": []},
    )
    assert default_storage.exists(cas_key(digest))


def test_a_wheel_for_another_package_or_from_a_stale_worker_is_refused(worker_api, tmp_path):
    job = _buildable()
    _pop(worker_api)
    other = make_wheel(tmp_path, "other_pkg", "1.0")
    upload = {"file": SimpleUploadedFile(other.name, other.read_bytes()), "worker": "w1"}
    wrong = worker_api.post(f"/api/builds/{job.pk}/wheel", upload, format="multipart")
    assert wrong.status_code == 400
    assert "is not demo-pkg==1.0" in wrong.json()["error"]
    mine = make_wheel(tmp_path, "demo_pkg", "1.0")
    stale = worker_api.post(
        f"/api/builds/{job.pk}/wheel",
        {"file": SimpleUploadedFile(mine.name, mine.read_bytes()), "worker": "gone"},
        format="multipart",
    )
    assert stale.status_code == 409
    assert not Artifact.objects.exists()


def test_a_corrupt_wheel_is_refused_naming_the_file(worker_api):
    job = _buildable()
    _pop(worker_api)
    response = worker_api.post(
        f"/api/builds/{job.pk}/wheel",
        {
            "file": SimpleUploadedFile("demo_pkg-1.0-py3-none-any.whl", b"not a zip"),
            "worker": "w1",
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("file: demo_pkg-1.0-py3-none-any.whl")
    assert not Artifact.objects.exists()


def test_storage_is_untouched_by_refused_wheels(worker_api, tmp_path):
    default_storage.save("marker", ContentFile(b"x"))
    job = _buildable()
    _pop(worker_api)
    bad = make_wheel(tmp_path, "other_pkg", "1.0")
    worker_api.post(
        f"/api/builds/{job.pk}/wheel",
        {"file": SimpleUploadedFile(bad.name, bad.read_bytes()), "worker": "w1"},
        format="multipart",
    )
    assert not default_storage.exists(cas_key(hashlib.sha256(bad.read_bytes()).hexdigest()))
