"""A plan's manifest is rewritten off the build slots (a slot takes its next job as soon as
a build's outcome is recorded, and the manifest is current when the drain returns), by one
writer at a time."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection

from builds.manifest import write_manifest
from builds.models import BuildJob
from builds.worker import LocalBuildQueue, drain
from plans.models import Plan
from tests.factories import PlanFactory
from tests.recording_runner import RecordingRunner, queued_quick_builds
from tests.sdists import setuptools_sdist_node

pytestmark = pytest.mark.django_db(transaction=True)
NAMES = ("alpha", "beta")


def test_one_slot_starts_the_next_build_before_the_plans_manifest_is_rewritten(
    tmp_path: Path, storage_dir, monkeypatch: pytest.MonkeyPatch
):
    plan = queued_quick_builds(tmp_path, NAMES)
    runner = RecordingRunner(timeout=120)
    seen_by_the_manifest: list[bool] = []

    def write_after_the_next_build_starts(plan: Any) -> str:
        if not seen_by_the_manifest:  # the first rewrite waits for the slot to move on
            both = [runner.started_event(name) for name in NAMES]
            seen_by_the_manifest.append(all(started.wait(30) for started in both))
        return write_manifest(plan)

    monkeypatch.setattr("builds.worker.write_manifest", write_after_the_next_build_starts)
    built = drain(LocalBuildQueue(), runner, "w1", pool_size=1)

    assert built == 2
    assert seen_by_the_manifest == [True]  # with the write in the slot, this waited in vain
    with default_storage.open(f"manifests/plan-{plan.pk}.json") as stored:
        manifest = json.load(stored)
    assert {node["name"]: node["status"] for node in manifest["nodes"]} == {
        "alpha": BuildJob.Status.BUILT,
        "beta": BuildJob.Status.BUILT,
    }
    assert all(len(node["wheels"]) == 1 for node in manifest["nodes"])
    assert default_storage.listdir("manifests")[1] == [f"plan-{plan.pk}.json"]


def test_two_writers_of_one_manifest_at_once_leave_one_file_and_no_error(
    tmp_path: Path, storage_dir, monkeypatch: pytest.MonkeyPatch
):
    node = setuptools_sdist_node(tmp_path, "alpha", "from setuptools import setup\nsetup()\n")
    plan = PlanFactory(dag={"nodes": [node], "edges": []})
    write_manifest(plan)
    looked_up = FileSystemStorage.exists

    def slow_exists(storage: FileSystemStorage, name: str) -> bool:
        time.sleep(0.3)  # wide enough for the other writer to come between check and save
        return looked_up(storage, name)

    monkeypatch.setattr(FileSystemStorage, "exists", slow_exists)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            write_manifest(Plan.objects.select_related("target").get(pk=plan.pk))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    writers = [threading.Thread(target=write) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)

    assert errors == []
    assert default_storage.listdir("manifests")[1] == [f"plan-{plan.pk}.json"]
    with default_storage.open(f"manifests/plan-{plan.pk}.json") as stored:
        assert json.load(stored)["nodes"][0]["name"] == "alpha"
