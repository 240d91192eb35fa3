"""SIGTERM to a worker: it claims nothing more, lets a build run for --grace seconds, then
stops it and gives the job back with its attempt refunded; a second SIGTERM stops it at
once. With nothing running it exits at once, even while it waits out a refinery that does
not answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection

from builds.graceful_stop import GracefulStop
from builds.log_reader import job_log
from builds.models import BuildEvent, BuildJob
from builds.orphans import stop_leftovers
from builds.plan_builds import enqueue_plan_builds
from tests.factories import PlanFactory, TargetFactory
from tests.local_index import local_index
from tests.sdists import setuptools_sdist_node, slow_sdist_node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]
ROOT = Path(__file__).resolve().parents[2]
NO_DATABASE = "postgres://nobody@127.0.0.1:1/none"

Start = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def command() -> Iterator[Start]:
    """``command(*argv, env=...)`` starts ``manage.py *argv``; what still runs when the test
    ends is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*argv: str, env: dict[str, str]) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *argv],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.communicate()


def _environment(storage_dir: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    db = connection.settings_dict
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "STORAGE_ROOT": str(storage_dir),
        "VAR_DIR": str(tmp_path / "var"),
        **extra,
    }


def _drain(command: Start, env: dict[str, str], grace: int) -> subprocess.Popen[str]:
    return command("drain", "--runner", "local", "--grace", str(grace), env=env)


def _wait_until_building(job: BuildJob) -> None:
    deadline = time.monotonic() + 90
    while BuildJob.objects.get(pk=job.pk).status != "building":
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.2)


def _sigterm_once_it_says(worker: subprocess.Popen[str], text: str, seconds: float) -> str:
    """SIGTERM once a line of the worker's stderr holds ``text``; the rest of its stderr,
    once it has ended (within ``seconds``)."""
    assert worker.stderr is not None
    for line in worker.stderr:
        if text in line:
            break
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=seconds)
    return worker.stderr.read()


def test_sigterm_releases_a_build_that_outlives_the_grace_period(
    command, plan_of, storage_dir, tmp_path
):
    plan = plan_of(("numpy", "numpy-2.1.3.tar.gz"))  # takes minutes: it will outlive the grace
    job = BuildJob.objects.get(plan=plan)
    worker = _drain(command, _environment(storage_dir, tmp_path), grace=2)
    _wait_until_building(job)

    worker.send_signal(signal.SIGTERM)
    _out, err = worker.communicate(timeout=60)

    assert worker.returncode == 0, err
    assert "no new work; running builds get 2 s to finish" in err
    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_owner) == ("pending", 0, "")
    released = BuildEvent.objects.filter(job=job, from_status="building", to_status="pending").get()
    assert released.message == "released by worker"
    assert "build cancelled" in job_log(job.pk)


def test_sigterm_lets_the_running_build_finish_claims_no_other_and_exits_when_it_ends(
    command, storage_dir, tmp_path
):
    nodes = [slow_sdist_node(tmp_path, seconds=3, name=name) for name in ("slowone", "slowtwo")]
    plan = PlanFactory(target=TargetFactory(), dag={"nodes": nodes, "edges": []})
    enqueue_plan_builds(plan, actor="test")
    worker = _drain(command, _environment(storage_dir, tmp_path, BUILD_POOL_SIZE="1"), grace=600)
    _wait_until_building(BuildJob.objects.get(plan=plan, name="slowone"))

    worker.send_signal(signal.SIGTERM)
    # Within the grace period: the build ends on its own and nothing else is running.
    out, err = worker.communicate(timeout=180)

    assert worker.returncode == 0, err
    assert "no new work; running builds get 600 s to finish" in err
    assert "1 job(s) processed" in out
    jobs = {job.name: job for job in BuildJob.objects.filter(plan=plan)}
    assert jobs["slowone"].status == "built"
    assert (jobs["slowtwo"].status, jobs["slowtwo"].attempts) == ("pending", 0)


def test_a_second_sigterm_stops_the_running_build_at_once(command, storage_dir, tmp_path):
    node = slow_sdist_node(tmp_path, seconds=300)
    plan = PlanFactory(target=TargetFactory(), dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")
    job = BuildJob.objects.get(plan=plan)
    worker = _drain(command, _environment(storage_dir, tmp_path), grace=600)
    _wait_until_building(job)

    worker.send_signal(signal.SIGTERM)
    err = _sigterm_once_it_says(worker, "running builds get 600 s to finish", seconds=60)

    assert worker.returncode == 0, err
    assert "stopping now: running builds are stopped and handed back" in err
    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_owner) == ("pending", 0, "")


def test_ctrl_c_to_refine_hands_its_running_build_back_and_says_how_to_go_on(
    command, storage_dir, tmp_path
):
    # Slow to build, not to plan: the planner runs setup.py too, for its requirements.
    slow_wheel = "import sys, time\nfrom setuptools import setup\n"
    slow_wheel += "if 'bdist_wheel' in sys.argv:\n    time.sleep(300)\nsetup()\n"
    node = setuptools_sdist_node(tmp_path, "slowbuild", slow_wheel)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("slowbuild==1.0\n")
    # The slow sdist from a small index of ours, its build requirement (setuptools) from PyPI.
    with local_index([Path(urlparse(node["source"]["url"]).path)]) as ours:
        env = _environment(storage_dir, tmp_path, EXTRA_INDEX_URL=ours, SHUTDOWN_GRACE_SEC="2")
        refine = command("refine", str(requirements), "--runner", "local", env=env)
        deadline = time.monotonic() + 120
        while not BuildJob.objects.filter(name="slowbuild", status="building").exists():
            assert refine.poll() is None, refine.communicate()
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.2)

        refine.send_signal(signal.SIGINT)
        interrupted_at = time.monotonic()
        out, err = refine.communicate(timeout=60)
        took = time.monotonic() - interrupted_at

    assert refine.returncode == 1, err
    assert "no new work; running builds get 2 s to finish" in err
    assert err.strip().splitlines()[-1] == (
        "CommandError: stopped: 1 of 1 builds unfinished (back in the queue); "
        "run the same command again to go on"
    )
    assert "published" not in out
    assert took < 20  # the 2 s grace and the hand-back; not the build's 300 s
    job = BuildJob.objects.get(name="slowbuild")
    assert (job.status, job.attempts, job.lease_owner) == ("pending", 0, "")
    assert stop_leftovers(job.pk) == ""  # nothing of the build runs on


def test_an_idle_remote_worker_stops_at_once_while_its_refinery_does_not_answer(command, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    worker = command(
        *("run_worker", "--api", f"http://127.0.0.1:{port}", "--token", "t"),
        *("--runner", "local", "--grace", "600"),
        env={**os.environ, "DATABASE_URL": NO_DATABASE, "VAR_DIR": str(tmp_path)},
    )

    # Neither the grace period (nothing runs) nor the retries (30 s) are waited out.
    err = _sigterm_once_it_says(worker, "retrying in", seconds=10)

    assert worker.returncode == 0, err
    assert "no new work; running builds get 600 s to finish" in err
    assert "the refinery is not answering" in err
    assert "(stopped waiting))" in err
    assert "trying again later" not in err


def test_a_command_run_inside_another_program_gives_it_back_its_ctrl_c():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    said: list[str] = []

    with GracefulStop(5, said.append).installed() as shutdown:
        os.kill(os.getpid(), signal.SIGINT)
        assert shutdown.stopping.is_set()

    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert said == [
        "stopping: no new work; running builds get 5 s to finish (again to stop them now)"
    ]
