"""``manage.py run_worker``: a worker with no database, only the API, plans and builds for a
live refinery, and waits out a refinery that is not there yet."""

from __future__ import annotations

import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from builds import queue as build_queue
from builds.log_reader import job_log
from builds.models import Artifact, BuildJob
from builds.plan_builds import enqueue_plan_builds
from inputs.models import PendingInput
from inputs.plan_queue import enqueue_plan
from plans.models import Plan
from tests.factories import PendingInputFactory, PlanFactory, TargetFactory
from tests.sdists import slow_sdist_node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "remote-w0rker"
# Any use of a database by the worker fails at once: nothing listens on port 1.
NO_DATABASE = "postgres://nobody@127.0.0.1:1/none"


def _worker_argv(base: str, *args: str) -> list[str]:
    return [sys.executable, "manage.py", "run_worker", "--api", base, "--token", TOKEN, *args]


def _no_database(tmp_path: Path) -> dict[str, str]:
    """The worker's environment: its own files, and no database or broker it could use."""
    return {
        **os.environ,
        "DATABASE_URL": NO_DATABASE,
        "REDIS_URL": "",
        "VAR_DIR": str(tmp_path / "worker-var"),
        "WORKER_TOKEN": "",
    }


def _worker(base: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _worker_argv(base, "--worker-id", "s390x-box-1", *args),
        cwd=ROOT,
        env=_no_database(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_remote_worker_without_a_database_builds_six_end_to_end(
    start_refinery, plan_of, storage_dir, tmp_path
):
    plan = plan_of(("six", "six-1.16.0.tar.gz"))
    base = start_refinery(env={"WORKER_TOKEN": TOKEN, "AUTO_PLAN": "false"})

    run = _worker(base, tmp_path, "--builds", "--runner", "local", "--once")

    assert run.returncode == 0, run.stderr[-3000:]
    assert f"job {BuildJob.objects.get().pk}: built in" in run.stdout
    job = BuildJob.objects.get(plan=plan, name="six")
    assert job.status == "built"
    assert job.events.filter(actor="worker/s390x-box-1", to_status="building").exists()
    wheel = Artifact.objects.get(name="six")
    assert (wheel.job_id, wheel.origin, wheel.filename) == (
        job.pk,
        "built",
        "six-1.16.0-py2.py3-none-any.whl",
    )
    assert wheel.provenance["runner"] == "local"
    assert default_storage.exists(wheel.storage_key)
    assert "sha256 verified" in job_log(job.pk)  # streamed over /api/logs/stream


def test_a_remote_plan_worker_plans_a_queued_input(start_refinery, tmp_path, settings):
    settings.LOCAL_PLANNING = False
    pending = PendingInputFactory(
        parsed={"requirements": [{"requirement": "six==1.16.0", "line": 1, "hashes": []}]},
        platform_tag="manylinux_2_17_s390x",
    )
    enqueue_plan(pending, dispatch=False)
    base = start_refinery(
        env={"WORKER_TOKEN": TOKEN, "AUTO_BUILD": "false", "LOCAL_PLANNING": "false"}
    )

    run = _worker(base, tmp_path, "--plans", "--once")

    assert run.returncode == 0, run.stderr[-3000:]
    pending.refresh_from_db()
    assert pending.status == PendingInput.Status.PLANNED
    plan = Plan.objects.get(inputs=pending)
    assert [(n["name"], n["action"]) for n in plan.dag["nodes"]] == [("six", "reuse")]


def test_a_worker_waits_out_a_refinery_that_is_not_up_yet(start_refinery, tmp_path, plan_of):
    """The worker starts first; its calls are retried with backoff until the server
    answers, and then it builds as if nothing had happened."""
    plan_of(("six", "six-1.16.0.tar.gz"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    worker = subprocess.Popen(
        _worker_argv(base, "--runner", "local", "--poll", "1"),
        cwd=ROOT,
        env=_no_database(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        start_refinery(env={"WORKER_TOKEN": TOKEN, "AUTO_PLAN": "false"}, port=port)
        job = BuildJob.objects.get(name="six")
        for _ in range(600):
            job.refresh_from_db()
            if job.status == "built":
                break
            assert worker.poll() is None, worker.communicate()[0][-3000:]
            time.sleep(0.5)
        assert job.status == "built"
    finally:
        worker.terminate()
        worker.communicate(timeout=120)


def _wait_for(job: BuildJob, status: str, worker: subprocess.Popen[str], seconds: int) -> None:
    for _ in range(seconds * 4):
        job.refresh_from_db()
        if job.status == status:
            return
        assert worker.poll() is None, worker.communicate()[0][-3000:]
        time.sleep(0.25)
    raise AssertionError(f"job is {job.status}, not {status}, after {seconds} s")


def test_a_worker_survives_losing_the_refinery_in_the_middle_of_a_build(
    start_refinery, tmp_path, plan_of
):
    """The server stops while the worker builds; the build goes on, heartbeats and log
    chunks wait, and once the server is back (same address) the wheel and the outcome
    are delivered. The lease had not expired, so the job is still the worker's."""
    plan_of(("six", "six-1.16.0.tar.gz"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = start_refinery(env={"WORKER_TOKEN": TOKEN}, port=port)
    worker = subprocess.Popen(
        _worker_argv(base, "--runner", "local", "--poll", "1", "--worker-id", "far-away"),
        cwd=ROOT,
        env=_no_database(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        job = BuildJob.objects.get(name="six")
        _wait_for(job, "building", worker, 120)
        first = start_refinery.servers[0]
        first.terminate()
        first.wait(timeout=60)
        time.sleep(3)  # the build runs on with nobody to report to
        start_refinery(env={"WORKER_TOKEN": TOKEN}, port=port)
        _wait_for(job, "built", worker, 300)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=120)[0]
    assert job.lease_owner == ""
    assert job.attempts == 1  # the same attempt: nothing was rebuilt
    assert Artifact.objects.get(name="six").job_id == job.pk
    assert "sha256 verified" in job_log(job.pk), output[-4000:]
    assert "built in" in output


def test_a_remote_worker_stops_a_cancelled_build_within_seconds(
    start_refinery, storage_dir, tmp_path
):
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    node = slow_sdist_node(tmp_path, seconds=120)
    files = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0),
        functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path)),
    )
    threading.Thread(target=files.serve_forever, daemon=True).start()
    node["source"]["url"] = f"http://127.0.0.1:{files.server_address[1]}/slowbuild-1.0.tar.gz"
    plan = PlanFactory(target=target, dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")
    base = start_refinery(env={"WORKER_TOKEN": TOKEN, "AUTO_PLAN": "false"})
    worker = subprocess.Popen(
        _worker_argv(base, "--worker-id", "box-2", "--builds", "--runner", "local", "--once"),
        cwd=ROOT,
        env=_no_database(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    job = BuildJob.objects.get(plan=plan)
    # Cancelled once its build runs (its log says the sdist was checked), not as soon as it
    # reads building: the worker gathers its wheelhouse first, and a cancel then is refused
    # there, before there is a build to stop.
    deadline = time.monotonic() + 120
    while "sha256 verified" not in job_log(job.pk) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert BuildJob.objects.get(pk=job.pk).status == "building"

    build_queue.cancel(BuildJob.objects.get(pk=job.pk), actor="ops")
    cancelled_at = time.monotonic()
    output, _ = worker.communicate(timeout=60)

    # Noticed by the cancel check, not the lease's beat (100 s); the seconds are printed.
    stopped_after = time.monotonic() - cancelled_at
    print(f"cancel: the remote worker stopped {stopped_after:.1f} s after the cancel")
    assert stopped_after < 30, output[-2000:]
    assert f"job {job.pk}: stopped (cancelled)" in output
    assert BuildJob.objects.get(pk=job.pk).status == "cancelled"
    assert not Artifact.objects.exists()
    files.shutdown()
