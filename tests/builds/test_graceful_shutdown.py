"""SIGTERM to a worker: it claims nothing more, lets a build run for --grace seconds, then
stops it and gives the job back with its attempt refunded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from builds.log_reader import job_log
from builds.models import BuildEvent, BuildJob

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]
ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_releases_a_build_that_outlives_the_grace_period(plan_of, storage_dir, tmp_path):
    plan = plan_of(("numpy", "numpy-2.1.3.tar.gz"))  # takes minutes: it will outlive the grace
    job = BuildJob.objects.get(plan=plan)
    db = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "STORAGE_ROOT": str(storage_dir),
        "VAR_DIR": str(tmp_path / "var"),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "drain", "--runner", "local", "--grace", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while BuildJob.objects.get(pk=job.pk).status != "building":
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.2)

    worker.send_signal(signal.SIGTERM)
    _out, err = worker.communicate(timeout=60)

    assert worker.returncode == 0, err
    assert "no new builds; running ones get 2 s to finish" in err
    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_owner) == ("pending", 0, "")
    released = BuildEvent.objects.filter(job=job, from_status="building", to_status="pending").get()
    assert released.message == "released by worker"
    assert "build cancelled" in job_log(job.pk)
