"""A worker that trips over its own bug gives the job back as a failed attempt at once
(retried with backoff), instead of leaving it leased until the lease runs out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builds.models import BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.runners.local import LocalRunner
from builds.worker import LocalBuildQueue, drain
from tests.factories import PlanFactory
from tests.sdists import probe_yajl_node, setuptools_sdist_node

pytestmark = pytest.mark.django_db(transaction=True)


class ExplodingRunner(LocalRunner):
    """The real local runner with a bug injected where it starts a build."""

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("runner exploded")


def test_a_worker_error_sends_the_job_to_retry_with_the_cause(tmp_path: Path, storage_dir):
    node = probe_yajl_node(tmp_path)
    plan = PlanFactory(dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")

    summary = drain(LocalBuildQueue(), ExplodingRunner(timeout=60), "w1", pool_size=1)

    job = BuildJob.objects.get(plan=plan)
    assert summary == 1
    assert job.status == BuildJob.Status.RETRY
    assert job.failure_reason == "infrastructure"
    assert job.error == "worker error: runner exploded"
    assert job.lease_owner == ""


def test_bookkeeping_that_fails_after_a_build_leaves_the_job_built_and_names_the_cause(
    tmp_path: Path, storage_dir, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    node = setuptools_sdist_node(tmp_path, "fine", "from setuptools import setup\nsetup()\n")
    plan = PlanFactory(dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")

    def full_disk(plan: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("builds.worker.write_manifest", full_disk)
    drain(LocalBuildQueue(), LocalRunner(timeout=120), "w1", pool_size=1)

    job = BuildJob.objects.get(plan=plan)
    assert job.status == BuildJob.Status.BUILT
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert said == [
        f"job {job.pk}: its outcome is recorded, but writing plan {plan.pk}'s manifest failed"
    ]
    assert "No space left on device" in caplog.text
    assert "could not report the worker error" not in caplog.text
