"""What follows a build's recorded outcome (its wheel's index pages, its inputs' outcome)
is done off the build slot while a drain runs: the slot takes its next job first, the
pages follow a moment later, well before the drain ends, and are current when it returns.
Outside a drain (an upload, an API report) they are current as soon as the call returns."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from builds.index import publishing
from builds.index.catalog import IndexTarget
from builds.index.page_store import page_store
from builds.models import Artifact, BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.worker import LocalBuildQueue, drain
from inputs.priority import Priority
from refinery.lib import follow_ups
from tests.factories import PlanFactory
from tests.recording_runner import QUICK_SETUP_PY, RecordingRunner, queued_quick_builds
from tests.sdists import setuptools_sdist_node, slow_sdist_node

pytestmark = pytest.mark.django_db(transaction=True)


def _listed_on_the_index(name: str) -> bool:
    artifact = Artifact.objects.filter(name=name).first()
    if artifact is None:
        return False
    page = page_store().get(IndexTarget.for_target(artifact.target).slug, name, "json")
    return page is not None and artifact.filename.encode() in page.body


def test_one_slot_starts_its_next_build_before_the_wheel_it_stored_is_put_on_the_index(
    tmp_path: Path, storage_dir, monkeypatch: pytest.MonkeyPatch
):
    queued_quick_builds(tmp_path, ("alpha", "beta"))
    runner = RecordingRunner(timeout=120)
    refresh = publishing.refresh_project
    next_build_had_started: list[bool] = []

    def refresh_after_the_next_build_starts(name: str) -> None:
        if not next_build_had_started:  # the first refresh waits for the slot to move on
            both = [runner.started_event(other) for other in ("alpha", "beta")]
            next_build_had_started.append(all(started.wait(30) for started in both))
        refresh(name)

    monkeypatch.setattr(publishing, "refresh_project", refresh_after_the_next_build_starts)
    built = drain(LocalBuildQueue(), runner, "w1", pool_size=1)

    assert built == 2
    assert next_build_had_started == [True]  # with the refresh in the slot, it waited in vain
    # Both wheels are on the index when the drain returns.
    assert _listed_on_the_index("alpha")
    assert _listed_on_the_index("beta")


def test_a_wheel_is_on_the_index_while_the_drain_still_builds_the_next_job(
    tmp_path: Path, storage_dir
):
    plan = PlanFactory(
        dag={
            "nodes": [
                setuptools_sdist_node(tmp_path, "alpha", QUICK_SETUP_PY),
                slow_sdist_node(tmp_path, seconds=4, name="zulu"),
            ],
            "edges": [],
        }
    )
    enqueue_plan_builds(plan, actor="test")
    BuildJob.objects.filter(name="alpha").update(priority=Priority.HIGH)  # alpha, then zulu
    runner = RecordingRunner(timeout=120)

    def drain_then_disconnect() -> None:
        try:
            drain(LocalBuildQueue(), runner, "w1", pool_size=1)
        finally:
            connection.close()  # this thread's own, which the test database must not keep

    draining = threading.Thread(target=drain_then_disconnect, daemon=True)
    draining.start()
    try:
        assert runner.started_event("zulu").wait(120)
        deadline = time.monotonic() + 6
        while not _listed_on_the_index("alpha") and time.monotonic() < deadline:
            connection.close()
            time.sleep(0.1)
        listed_while_building = _listed_on_the_index("alpha")
        zulu = BuildJob.objects.get(name="zulu")
        assert listed_while_building
        assert zulu.status == BuildJob.Status.BUILDING  # the drain was still under way
    finally:
        draining.join(180)
    assert not draining.is_alive()


def test_outside_a_background_thread_the_work_is_done_before_soon_returns():
    done: list[str] = []

    follow_ups.soon("index alpha", lambda: done.append("alpha"))

    assert done == ["alpha"]


def test_work_handed_to_the_background_runs_once_per_key_after_the_caller_moved_on():
    done: list[str] = []
    caller_moved_on = threading.Event()

    def page(name: str) -> None:
        assert caller_moved_on.wait(10)
        done.append(name)

    with follow_ups.background("test", settle=0.05) as later:
        with follow_ups.handed_to(later):
            for _ in range(3):
                follow_ups.soon("index alpha", lambda: page("alpha"))
            follow_ups.soon("index beta", lambda: page("beta"))
        assert done == []
        caller_moved_on.set()
        follow_ups.soon("index gamma", lambda: page("gamma"))  # no longer handed: at once
        assert "gamma" in done

    assert sorted(done) == ["alpha", "beta", "gamma"]  # alpha once, for three asks


def test_a_slot_starts_its_next_build_before_removing_the_last_ones_folder_and_none_is_left(
    tmp_path: Path, storage_dir, monkeypatch: pytest.MonkeyPatch
):
    queued_quick_builds(tmp_path, ("alpha", "beta"))
    folders: list[Path] = []

    class FolderNotingRunner(RecordingRunner):
        def run(self, spec: Any, output_dir: Path, *args: Any, **kwargs: Any) -> Any:
            folders.append(Path(output_dir).parent)
            return super().run(spec, output_dir, *args, **kwargs)

    runner = FolderNotingRunner(timeout=120)
    cleanup = tempfile.TemporaryDirectory.cleanup
    next_build_had_started: list[bool] = []

    def cleanup_after_the_next_build_starts(scratch: tempfile.TemporaryDirectory[str]) -> None:
        # The first build folder's removal waits for the slot to move on (the runner's own
        # folders are removed within the build).
        if not next_build_had_started and Path(scratch.name).name.startswith("refinery-out-"):
            both = [runner.started_event(name) for name in ("alpha", "beta")]
            next_build_had_started.append(all(started.wait(30) for started in both))
        cleanup(scratch)

    monkeypatch.setattr(tempfile.TemporaryDirectory, "cleanup", cleanup_after_the_next_build_starts)
    built = drain(LocalBuildQueue(), runner, "w1", pool_size=1)

    assert built == 2
    assert next_build_had_started == [True]  # removed in the slot, it waited in vain
    assert len(folders) == 2
    assert not any(folder.exists() for folder in folders)
