"""Drills on the real processes ``make run`` starts, on Postgres: the database server and the
web server restarted while builds and plans are in flight. Nothing is lost or built twice,
no status goes backwards, clients get 503 with Retry-After while the database is away, and
the queue resumes on its own."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.authtoken.models import Token

from builds.models import Artifact, BuildEvent, BuildJob
from builds.plan_builds import enqueue_plan_builds
from inputs.models import PendingInput
from tests.drills import kill_9_of_serve_and_a_restart
from tests.factories import PlanFactory, TargetFactory
from tests.local_index import gated_pypi
from tests.sdists import slow_sdist_node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]

# Where a job stays: done, or its wheel taken from PyPI (setuptools for the sdists).
FINAL = {"built", "failed", "system_recipe_failed", "cancelled", "reused", "cached"}


def _postgres_cluster() -> list[str] | None:
    """pg_ctlcluster's version and name for the server the tests use, when it is this host's."""
    if connection.vendor != "postgresql" or shutil.which("pg_ctlcluster") is None:
        return None
    versions = sorted(Path("/etc/postgresql").glob("*/main"))
    return [versions[-1].parent.name, "main"] if versions else None


def _pg_ctl(action: str) -> None:
    cluster = _postgres_cluster()
    assert cluster is not None
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action, "--", "-m", "fast"]
        if action == "stop"
        else ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action],
        check=True,
        capture_output=True,
    )


def _wait(predicate, seconds: float, what: str, state=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"waited {seconds:.0f} s for {what} {state()}")


def _trail(job: BuildJob) -> list[tuple[str, str]]:
    events = BuildEvent.objects.filter(job=job).exclude(to_status="").order_by("created_at", "id")
    return list(events.values_list("to_status", "message"))


def _statuses_never_went_back(job: BuildJob) -> None:
    trail = [status for status, _ in _trail(job)]
    assert trail[-1] == "built", trail
    assert trail.count("built") == 1, trail  # built once, and for good


@pytest.mark.skipif(
    _postgres_cluster() is None, reason="needs this host's Postgres (pg_ctlcluster)"
)
def test_postgres_and_the_web_server_restarted_mid_flight_lose_and_repeat_nothing(
    settings, start_refinery, tmp_path
):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    operator = User.objects.create_user("ops", password="x", is_staff=True)
    token = Token.objects.create(user=operator).key
    headers = {"Authorization": f"Token {token}"}
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    nodes = [slow_sdist_node(tmp_path, seconds=4, name=f"slow{n}") for n in range(3)]
    plan = PlanFactory(target=target, dag={"nodes": nodes, "edges": []})
    enqueue_plan_builds(plan, actor="test")
    with gated_pypi() as (index_url, pypi):
        env = {
            "RUNNER": "local",
            "AUTO_PLAN": "true",
            "AUTO_BUILD": "true",
            "BUILD_POOL_SIZE": "1",
            "INDEX_URL": index_url,
        }
        base = start_refinery(cluster=True, env=env)
        _wait(
            lambda: BuildJob.objects.filter(plan=plan, status="building").exists(),
            120,
            "a build to start",
        )
        # A plan in flight too: an upload the cluster plans and builds (docopt has no
        # wheel), caught mid-plan: its planner waits on PyPI's page until the outage.
        uploaded = httpx.post(
            f"{base}/api/requirements/upload",
            files={"file": ("requirements.txt", b"docopt==0.6.2\n")},
            headers=headers,
            timeout=30,
        )
        assert uploaded.status_code == 201, uploaded.text
        assert pypi.asked.wait(120), "the upload was never planned"
        upload = PendingInput.objects.get()
        assert upload.status == "planning"
        assert upload.lease_owner  # its planner holds it

        _pg_ctl("stop")
        try:
            away = httpx.get(f"{base}/api/builds", headers=headers, timeout=30)
            assert away.status_code == 503
            assert away.headers["Retry-After"]
            pypi.gate.set()  # the planner carries on into the outage
            time.sleep(5)  # heartbeats, claims and the planner meet a database that is away
        finally:
            _pg_ctl("start")
        connection.close()  # this test's own connection went with the server
        _wait(lambda: httpx.get(f"{base}/api/health", timeout=5).status_code == 200, 60, "the API")

        # The web server (and its cluster) restarted too, while the queue is still at work.
        server = start_refinery.servers[0]
        server.terminate()
        server.wait(timeout=60)
        base = start_refinery(cluster=True, env=env)
        restarted = time.monotonic()

        def all_done() -> bool:
            connection.close()
            return (
                BuildJob.objects.filter(name="docopt").exists()
                and not BuildJob.objects.exclude(status__in=FINAL).exists()
                and PendingInput.objects.get().status in ("queued", "failed")
            )

        def state() -> str:
            jobs = {job.name: (job.status, job.error) for job in BuildJob.objects.all()}
            upload = PendingInput.objects.get()
            return (
                f"(jobs: {jobs}; upload: {upload.status} {upload.error!r}, leased to "
                f"{upload.lease_owner!r} until {upload.lease_expires_at}, "
                f"attempt {upload.plan_attempts})"
            )

        _wait(all_done, 300, "every build and the upload to finish", state)
        print(f"restart drill: all done {time.monotonic() - restarted:.1f} s after the restarts")
        upload = PendingInput.objects.get()
        assert upload.status == "queued", upload.error  # planned, and its builds queued
        built = {job.name: job for job in BuildJob.objects.filter(status="built")}
        assert sorted(built) == ["docopt", "slow0", "slow1", "slow2"], state()
        for name, job in built.items():
            assert Artifact.objects.filter(name=name).count() == 1, name
            _statuses_never_went_back(job)
            # Builds went on through the outage, and the restart handed back what it stopped:
            # neither cost an attempt.
            assert job.attempts == 1, (name, _trail(job))
        index = f"{base}/t/cp311-manylinux_2_17_x86_64/simple/docopt/"
        assert httpx.get(index, timeout=10).status_code == 200


def test_the_whole_refinery_killed_and_restarted_builds_the_job_once(
    start_refinery, settings, tmp_path
):
    reclaimed_after = kill_9_of_serve_and_a_restart(start_refinery, settings, tmp_path)
    print(f"restart drill: claimed again {reclaimed_after:.1f} s after the kill")
