"""SIGTERM to ``manage.py serve`` in the middle of a build: the build is handed back within
the grace period (its attempt refunded), never left ``building``, and nothing of it runs on."""

from __future__ import annotations

import signal
import time

import pytest

from builds.models import BuildEvent, BuildJob
from builds.orphans import stop_leftovers
from builds.plan_builds import enqueue_plan_builds
from tests.factories import PlanFactory, TargetFactory
from tests.sdists import slow_sdist_node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]


def test_sigterm_to_serve_hands_a_running_build_back(start_refinery, settings, tmp_path):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    plan = PlanFactory(
        target=target, dag={"nodes": [slow_sdist_node(tmp_path, seconds=300)], "edges": []}
    )
    enqueue_plan_builds(plan, actor="test")
    start_refinery(cluster=True, env={"RUNNER": "local", "SHUTDOWN_GRACE_SEC": "2"})
    serve = start_refinery.servers[0]
    job = BuildJob.objects.get(plan=plan)
    deadline = time.monotonic() + 120
    while BuildJob.objects.get(pk=job.pk).status != "building":
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.3)

    serve.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    serve.wait(timeout=60)

    assert time.monotonic() - stopped_at < 20  # the 2 s grace and a hand-back, not serve's 30 s
    job.refresh_from_db()
    trail = list(BuildEvent.objects.filter(job=job).values_list("to_status", "message"))
    assert (job.status, job.attempts, job.lease_owner) == ("pending", 0, ""), trail
    released = BuildEvent.objects.get(job=job, from_status="building", to_status="pending")
    assert released.message == "released by worker"
    assert stop_leftovers(job.pk) == ""  # nothing of the build runs on
