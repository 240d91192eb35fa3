"""A build whose local worker process is gone (killed, crashed, its cluster restarted) goes
back in the queue at once, not when its lease runs out; workers that are alive, of other
hosts or remote are left to their leases. Drilled on the real cluster: kill -9 of the worker
in the middle of a build, and the job is built again within a minute, exactly once."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone

from builds import queue as build_queue
from builds.images import podman_env
from builds.models import BuildEvent, BuildJob
from builds.orphans import (
    container_prefix,
    installation,
    marked,
    output_prefix,
    scratch_prefix,
    stop_leftovers,
)
from builds.plan_builds import enqueue_plan_builds
from refinery.lib.worker_ids import local_worker_id, this_host
from refinery.lib.worker_liveness import dead_local_workers
from tests.drills import kill_9_of_the_worker_mid_build
from tests.factories import PlanFactory, TargetFactory
from tests.podman_containers import containers_of
from tests.sdists import setuptools_sdist_node

pytestmark = pytest.mark.django_db(transaction=True)


def gone_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def leased_to(owner: str) -> BuildJob:
    target = TargetFactory()
    job, _ = build_queue.enqueue(f"pkg-{abs(hash(owner)) % 10_000}", "1.0", target, actor="t")
    (claimed,) = build_queue.claim(owner, max_n=1, target_ids=[target.pk])
    assert claimed.pk == job.pk
    return BuildJob.objects.get(pk=job.pk)


def test_a_job_of_a_local_worker_that_is_gone_is_queued_again_at_once():
    owner = f"q2:{this_host()}:{gone_pid()}"
    job = leased_to(owner)
    assert job.lease_expires_at > timezone.now() + timedelta(minutes=1)

    result = build_queue.reclaim_from_dead_workers()

    assert (result.requeued, result.failed) == (1, 0)
    job.refresh_from_db()
    assert job.status == "retry"
    assert job.next_attempt_at <= timezone.now()
    assert job.failure_reason == "lease_expired"
    event = BuildEvent.objects.filter(job=job, to_status="retry").get()
    assert event.message == f"worker {owner} is gone (its process exited)"
    assert event.data["worker_gone"] is True
    (again,) = build_queue.claim("q2:other:1", max_n=1, target_ids=[job.target_id])
    assert again.pk == job.pk


def test_live_workers_other_hosts_and_remote_workers_keep_their_leases():
    alive = leased_to(local_worker_id("q2"))
    elsewhere = leased_to(f"q2:another-host.0badc0de:{gone_pid()}")
    remote = leased_to(f"s390x-1/q2:{this_host()}:{gone_pid()}")

    assert build_queue.reclaim_from_dead_workers().requeued == 0

    statuses = BuildJob.objects.filter(pk__in=[alive.pk, elsewhere.pk, remote.pk])
    assert set(statuses.values_list("status", flat=True)) == {"leased"}


def test_a_job_with_no_attempts_left_fails_when_its_worker_is_gone():
    job = leased_to(f"drain:{this_host()}:{gone_pid()}")
    BuildJob.objects.filter(pk=job.pk).update(max_attempts=1)

    assert build_queue.reclaim_from_dead_workers().failed == 1

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.failure_reason == "lease_expired"
    assert "no attempts left" in BuildEvent.objects.get(job=job, to_status="failed").message


def test_only_local_names_with_a_dead_pid_are_judged_gone():
    dead = gone_pid()
    owners = {
        f"q2:{this_host()}:{dead}",
        f"refine:{this_host()}:{dead}",
        f"q2:{this_host()}:{os.getpid()}",
        f"q2:elsewhere:{dead}",
        f"worker/q2:{this_host()}:{dead}",
        "anything else",
    }
    assert dead_local_workers(owners) == {
        f"q2:{this_host()}:{dead}",
        f"refine:{this_host()}:{dead}",
    }


def test_what_a_dead_build_left_behind_is_stopped_and_removed_and_nothing_else():
    def sleeper(job_id: int) -> subprocess.Popen[bytes]:
        env = marked(dict(os.environ), job_id)
        # a shell and its child: the child must go too, whatever its parent
        return subprocess.Popen(["sh", "-c", "sleep 300 & wait"], env=env)

    mine, other = sleeper(91), sleeper(911)
    scratch = Path(tempfile.mkdtemp(prefix=scratch_prefix(91, "pkg")))
    output = Path(tempfile.mkdtemp(prefix=output_prefix(91)))
    kept = Path(tempfile.mkdtemp(prefix=output_prefix(911)))
    time.sleep(0.3)
    try:
        said = stop_leftovers(91)

        assert mine.wait(timeout=10) == -signal.SIGKILL
        assert other.poll() is None
        assert not scratch.exists()
        assert not output.exists()
        assert kept.exists()
        assert "2 process(es) killed" in said
        assert "2 scratch folder(s) removed" in said
        assert stop_leftovers(91) == ""
    finally:
        other.kill()
        other.wait()
        shutil.rmtree(kept, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.network
def test_a_refine_after_one_killed_mid_build_takes_its_build_back_and_publishes_once_built(
    settings, storage_dir, tmp_path, capsys
):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("docopt==0.6.2\n")
    # A first refine plans and queues docopt's build (and gives up at once); the job is then
    # leased to a process that is gone, as a refine killed with -9 mid-build leaves it.
    with pytest.raises(CommandError, match="--timeout reached"):
        call_command("refine", str(requirements), "--runner", "local", "--timeout", "1")
    (left,) = build_queue.claim(f"refine:{this_host()}:{gone_pid()}", max_n=1)
    capsys.readouterr()

    call_command("refine", str(requirements), "--runner", "local")

    out = capsys.readouterr().out
    assert "3/4 build: 0 enqueued, 1 already queued" in out  # the first refine's plan's job
    assert "4/4 published" in out
    left.refresh_from_db()
    assert left.status == "built"
    assert BuildEvent.objects.filter(job=left, message__contains="is gone").exists()


@pytest.mark.slow
@pytest.mark.network
def test_manage_py_drain_takes_back_a_build_a_dead_worker_of_this_host_left(storage_dir, tmp_path):
    node = setuptools_sdist_node(tmp_path, "leftbehind", "from setuptools import setup\nsetup()\n")
    plan = PlanFactory(target=TargetFactory(), dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")
    (left,) = build_queue.claim(f"drain:{this_host()}:{gone_pid()}", max_n=1)

    call_command("drain", "--runner", "local", "--once")

    left.refresh_from_db()
    assert left.status == "built"
    assert BuildEvent.objects.filter(job=left, message__contains="is gone").exists()


@contextlib.contextmanager
def as_another_refinery() -> Iterator[None]:
    """Names as a refinery on another database makes them (another checkout, the repair
    bench, make test beside make run): it numbers its jobs from 1 too."""
    installation.cache_clear()
    try:
        with mock.patch.dict(connections["default"].settings_dict, NAME="another_refinery"):
            yield
    finally:
        installation.cache_clear()


def test_another_refinerys_build_of_the_same_job_number_is_left_running():
    with as_another_refinery():
        other = subprocess.Popen(["sh", "-c", "sleep 300 & wait"], env=marked(dict(os.environ), 91))
        scratch = Path(tempfile.mkdtemp(prefix=scratch_prefix(91, "pkg")))
        output = Path(tempfile.mkdtemp(prefix=output_prefix(91)))
    time.sleep(0.3)
    try:
        assert stop_leftovers(91) == ""

        assert other.poll() is None
        assert scratch.exists()
        assert output.exists()
    finally:
        other.kill()
        other.wait()
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(output, ignore_errors=True)


@pytest.mark.podman
def test_another_refinerys_container_of_the_same_job_number_is_left_alone(amd64_image):
    with as_another_refinery():
        theirs = f"{container_prefix(91)}0123abcd"
    ours = f"{container_prefix(91)}4567cdef"
    for name in (theirs, ours):
        subprocess.run(
            [django_settings.PODMAN_BIN, "create", "--name", name, amd64_image, "true"],
            env=podman_env(),
            capture_output=True,
            check=True,
        )
    try:
        said = stop_leftovers(91)

        assert said == f"container {ours} removed"
        assert not containers_of(91)
        with as_another_refinery():
            assert containers_of(91) == [theirs]
    finally:
        subprocess.run(
            [django_settings.PODMAN_BIN, "rm", "--force", "--ignore", theirs, ours],
            env=podman_env(),
            capture_output=True,
        )


@pytest.mark.slow
@pytest.mark.network
def test_kill_9_of_the_worker_mid_build_is_built_again_within_a_minute_exactly_once(
    start_refinery, settings, tmp_path
):
    reclaimed_after = kill_9_of_the_worker_mid_build(start_refinery, settings, tmp_path)
    print(f"kill -9 drill: claimed again {reclaimed_after:.1f} s after the kill")  # the figure


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.podman
def test_kill_9_of_the_worker_mid_podman_build_stops_its_container_and_builds_once(
    amd64_image, serve_sdist, start_refinery, settings, tmp_path
):
    reclaimed_after = kill_9_of_the_worker_mid_build(
        start_refinery, settings, tmp_path, podman_serving=serve_sdist
    )
    print(f"kill -9 drill (podman): claimed again {reclaimed_after:.1f} s after the kill")
