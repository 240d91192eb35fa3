"""Reproducibility: an artifact rebuilt in a fresh environment from its provenance is
compared byte for byte with the stored wheel, and the artifact records the verdict, with
the members that differ when the bytes do."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from builds.models import Artifact, BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.reproduce import compare
from builds.runners.local import LocalRunner
from builds.worker import LocalBuildQueue, drain
from tests.conftest import queued_tasks
from tests.factories import ArtifactFactory, PlanFactory, TargetFactory
from tests.sdists import setuptools_sdist_node

STEADY = "from setuptools import setup\nsetup(py_modules=['steady'])\n"
# Writes a different module at every build: what a build stamping the time does.
WOBBLY = (
    "import os, random\nfrom setuptools import setup\n"
    "os.makedirs('wobbly', exist_ok=True)\n"
    "open('wobbly/__init__.py', 'w').write(f'STAMP = {random.random()!r}\\n')\n"
    "setup(packages=['wobbly'])\n"
)


def built(tmp_path: Path, name: str, setup_py: str) -> Artifact:
    target = TargetFactory()
    plan = PlanFactory(
        target=target, dag={"nodes": [setuptools_sdist_node(tmp_path, name, setup_py)], "edges": []}
    )
    enqueue_plan_builds(plan, actor="test")
    drain(LocalBuildQueue(), LocalRunner(timeout=600, pip_cache=tmp_path / "pip"), "w", pool_size=1)
    job = BuildJob.objects.get(plan=plan)
    assert job.status == "built", job.error
    return Artifact.objects.get(job=job)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.network
def test_a_steady_build_is_reproducible_and_a_stamping_one_is_not(
    tmp_path, storage_dir, capsys, settings
):
    settings.RUNNER = "local"
    steady = built(tmp_path, "steady", STEADY)
    wobbly = built(tmp_path, "wobbly", WOBBLY)

    call_command("reproduce", str(steady.pk))
    with pytest.raises(CommandError, match="1 of 1 artifact"):
        call_command("reproduce", wobbly.filename)

    out = capsys.readouterr().out
    assert f"{steady.filename}: reproducible (identical bytes)" in out
    assert f"{wobbly.filename}: NOT reproducible" in out
    assert "  differs: wobbly/__init__.py" in out
    steady.refresh_from_db()
    wobbly.refresh_from_db()
    assert steady.reproducible is True
    assert steady.reproduction["rebuilt_sha256"] == steady.sha256
    assert wobbly.reproducible is False
    assert "wobbly/__init__.py" in wobbly.reproduction["differing_members"]
    assert any(m.endswith(".dist-info/RECORD") for m in wobbly.reproduction["differing_members"])
    assert wobbly.reproduced_at is not None


def _zip(members: dict[str, bytes], date: tuple[int, int, int, int, int, int]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=date), data)
    return buffer.getvalue()


def test_the_same_contents_in_another_archive_are_named_as_such(tmp_path):
    stored, rebuilt = tmp_path / "a.whl", tmp_path / "b.whl"
    stored.write_bytes(_zip({"m/__init__.py": b"x = 1\n"}, (1980, 1, 1, 0, 0, 0)))
    rebuilt.write_bytes(_zip({"m/__init__.py": b"x = 1\n"}, (2024, 5, 1, 0, 0, 0)))

    verdict = compare(stored, rebuilt)

    assert verdict.reproducible is False
    assert verdict.differing == []
    assert "archive's metadata" in verdict.detail


@pytest.mark.django_db
def test_a_wheel_not_built_here_or_not_there_is_one_line(storage_dir):
    uploaded = ArtifactFactory(origin=Artifact.Origin.UPLOADED)
    with pytest.raises(CommandError, match="was not built here"):
        call_command("reproduce", str(uploaded.pk))
    with pytest.raises(CommandError, match="no such artifact"):
        call_command("reproduce", "nothing-1.0-py3-none-any.whl")


@pytest.mark.django_db
def test_the_api_queues_a_rebuild_of_a_built_wheel_and_refuses_others(staff_api, storage_dir):
    made_here = ArtifactFactory(origin=Artifact.Origin.BUILT)
    uploaded = ArtifactFactory(origin=Artifact.Origin.UPLOADED)

    queued = staff_api.post(f"/api/artifacts/{made_here.pk}/reproduce")
    refused = staff_api.post(f"/api/artifacts/{uploaded.pk}/reproduce")

    assert queued.status_code == 202
    assert queued.json()["reproducible"] is None  # not yet: the rebuild runs in the cluster
    (task,) = [t for t in queued_tasks() if t["func"] == "builds.tasks.reproduce_artifact"]
    assert task["args"] == (made_here.pk,)
    assert refused.status_code == 409
    assert "was not built here" in refused.json()["error"]
