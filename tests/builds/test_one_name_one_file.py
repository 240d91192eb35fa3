"""One wheel file name, one content, forever (as on PyPI): concurrent uploads of one name
with other bytes give one winner and a 409, a worker cannot replace a published wheel,
the database enforces it, and identical bytes are simply acknowledged."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError

from builds.artifacts import FilenameTaken, store_wheel
from builds.models import Artifact, BuildJob
from tests.conftest import WORKER_TOKEN
from tests.factories import ArtifactFactory, BuildJobFactory, PlanFactory, TargetFactory
from tests.wheels import make_wheel

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"


def _variants(tmp_path, count: int):
    """``count`` wheels with one file name and different bytes."""
    wheels = []
    for index in range(count):
        folder = tmp_path / f"v{index}"
        folder.mkdir()
        wheels.append(make_wheel(folder, extra_files={"demo/which.py": f"N = {index}\n".encode()}))
    return wheels


def test_the_database_refuses_a_second_row_for_a_file_name():
    ArtifactFactory(name="demo", filename="demo-1.0-py3-none-any.whl")
    with pytest.raises(IntegrityError):
        ArtifactFactory(name="demo", filename="demo-1.0-py3-none-any.whl")


def _race(base: str, wheels: list[Path]) -> list[httpx.Response]:
    """Upload every wheel at the same moment, one thread each."""
    barrier = threading.Barrier(len(wheels))

    def upload(path):
        data = path.read_bytes()
        barrier.wait()
        return httpx.post(
            f"{base}/api/wheels/upload",
            headers={"X-Worker-Token": WORKER_TOKEN},
            files={"file": (path.name, data)},
            timeout=60,
        )

    with ThreadPoolExecutor(len(wheels)) as pool:
        return list(pool.map(upload, wheels))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_of_one_name_give_one_winner_and_409s(start_refinery, tmp_path):
    base = start_refinery(env={"WORKER_TOKEN": WORKER_TOKEN})
    for round_number in range(6):
        name = f"demo_r{round_number}"
        rivals = []
        for side in ("a", "b"):
            folder = tmp_path / f"{round_number}{side}"
            folder.mkdir()
            rivals.append(make_wheel(folder, name, "1.0", extra_files={"x.py": side.encode()}))

        answers = _race(base, rivals)
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        winner = next(a for a in answers if a.status_code == 201).json()["artifact"]
        loser = next(a for a in answers if a.status_code == 409).json()
        assert "a different file of that name is already published" in loser["error"]
        page = httpx.get(f"{base}/simple/{name.replace('_', '-')}/", headers={"Accept": JSON})
        (listed,) = page.json()["files"]
        assert listed["hashes"]["sha256"] == winner["sha256"]
    assert Artifact.objects.count() == 6


def test_identical_bytes_are_acknowledged_not_stored_twice(worker_api, tmp_path, storage_dir):
    wheel = make_wheel(tmp_path)
    first = worker_api.post(
        "/api/wheels/upload",
        {"file": SimpleUploadedFile(wheel.name, wheel.read_bytes())},
        format="multipart",
    )
    again = worker_api.post(
        "/api/wheels/upload",
        {"file": SimpleUploadedFile(wheel.name, wheel.read_bytes())},
        format="multipart",
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert Artifact.objects.count() == 1


def _leased_job(name: str = "demo") -> BuildJob:
    plan = PlanFactory(
        dag={
            "nodes": [{"name": name, "version": "1.0", "action": "build", "source": {}}],
            "edges": [],
        }
    )
    return BuildJobFactory(
        name=name,
        version="1.0",
        plan=plan,
        target=plan.target,
        status="building",
        lease_owner="worker/w1",
    )


def test_a_worker_cannot_replace_a_published_wheel(worker_api, tmp_path, storage_dir):
    published, impostor = _variants(tmp_path, 2)
    store_wheel(published, target=TargetFactory(), origin="uploaded", name="demo", version="1.0")
    job = _leased_job()

    response = worker_api.post(
        f"/api/builds/{job.pk}/wheel",
        {"file": SimpleUploadedFile(impostor.name, impostor.read_bytes()), "worker": "w1"},
        format="multipart",
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "filename_taken"
    assert body["published_sha256"] == hashlib.sha256(published.read_bytes()).hexdigest()
    (artifact,) = Artifact.objects.all()
    assert artifact.sha256 == body["published_sha256"]


def test_a_workers_identical_wheel_is_idempotent(worker_api, tmp_path, storage_dir):
    (wheel,) = _variants(tmp_path, 1)
    job = _leased_job()
    answers = [
        worker_api.post(
            f"/api/builds/{job.pk}/wheel",
            {"file": SimpleUploadedFile(wheel.name, wheel.read_bytes()), "worker": "w1"},
            format="multipart",
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert Artifact.objects.count() == 1


def test_storing_other_bytes_under_a_taken_name_raises_and_leaves_no_file(tmp_path, storage_dir):
    published, impostor = _variants(tmp_path, 2)
    target = TargetFactory()
    store_wheel(published, target=target, origin="built", name="demo", version="1.0")
    with pytest.raises(FilenameTaken) as taken:
        store_wheel(impostor, target=target, origin="built", name="demo", version="1.0")
    assert taken.value.published_sha256 == Artifact.objects.get().sha256
    assert len([p for p in storage_dir.rglob("*") if p.is_file()]) == 1
