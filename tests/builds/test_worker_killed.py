"""A worker killed mid-build: its lease expires, the job is rebuilt once, one artifact results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from builds import queue as build_queue
from builds.models import Artifact, BuildEvent, BuildJob
from builds.runners.local import LocalRunner
from builds.worker import LocalBuildQueue, drain

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]
ROOT = Path(__file__).resolve().parents[2]


def _wait_for(job_id: int, status: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while BuildJob.objects.get(pk=job_id).status != status:
        assert time.monotonic() < deadline, f"job {job_id} never reached {status}"
        time.sleep(0.2)


def test_a_sigkilled_worker_loses_its_lease_and_the_job_is_built_exactly_once(
    plan_of, storage_dir, settings, tmp_path
):
    plan = plan_of(("markupsafe", "MarkupSafe-2.1.5.tar.gz"))
    job = BuildJob.objects.get(plan=plan)
    db = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "BUILD_LEASE_SEC": "6",
        "STORAGE_ROOT": str(storage_dir),
        "VAR_DIR": str(tmp_path / "var"),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "drain", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(job.pk, "building", 90)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    killed_owner = BuildJob.objects.get(pk=job.pk).lease_owner

    settings.RETRY_BACKOFF_BASE_SEC = 1
    time.sleep(6.5)  # the dead worker's lease runs out
    assert build_queue.reap_expired_leases().requeued == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, job.failure_reason) == ("retry", 1, "lease_expired")
    reaped = BuildEvent.objects.filter(job=job, to_status="retry").get()
    assert reaped.actor == "reaper"
    assert reaped.data["worker"] == killed_owner

    time.sleep(max(0.0, (job.next_attempt_at - timezone.now()).total_seconds()) + 0.1)
    assert drain(LocalBuildQueue(), LocalRunner(timeout=600), "second-worker", pool_size=1) == 1

    job.refresh_from_db()
    assert (job.status, job.attempts) == ("built", 2)
    assert Artifact.objects.filter(name="markupsafe").count() == 1
    assert Artifact.objects.get(name="markupsafe").job_id == job.pk
    assert job.finished_at > timezone.now() - timedelta(minutes=5)
