"""A plan's manifest is rewritten off the build slots: a slot takes its next job as soon as
a build's outcome is recorded, and the manifest is current when the drain returns."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage

from builds.manifest import write_manifest
from builds.models import BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.runners.local import LocalRunner
from builds.worker import LocalBuildQueue, drain
from tests.factories import PlanFactory
from tests.sdists import setuptools_sdist_node

pytestmark = pytest.mark.django_db(transaction=True)
NAMES = ("alpha", "beta")


class RecordingRunner(LocalRunner):
    """The real local runner, noting which packages it has started to build."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.started: dict[str, threading.Event] = {}

    def run(self, spec: Any, *args: Any, **kwargs: Any) -> Any:
        self.started.setdefault(spec.name, threading.Event()).set()
        return super().run(spec, *args, **kwargs)


def test_one_slot_starts_the_next_build_before_the_plans_manifest_is_rewritten(
    tmp_path: Path, storage_dir, monkeypatch: pytest.MonkeyPatch
):
    setup_py = "from setuptools import setup\nsetup()\n"
    plan = PlanFactory(
        dag={
            "nodes": [
                setuptools_sdist_node(tmp_path, "alpha", setup_py),
                setuptools_sdist_node(tmp_path, "beta", setup_py),
            ],
            "edges": [],
        }
    )
    enqueue_plan_builds(plan, actor="test")
    runner = RecordingRunner(timeout=120)
    seen_by_the_manifest: list[bool] = []

    def write_after_the_next_build_starts(plan: Any) -> str:
        if not seen_by_the_manifest:  # the first rewrite waits for the slot to move on
            both = [runner.started.setdefault(name, threading.Event()) for name in NAMES]
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
