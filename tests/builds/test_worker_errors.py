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
from tests.sdists import probe_yajl_node

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
