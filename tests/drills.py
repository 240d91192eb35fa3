"""Crash and restart drills on the real processes ``make run`` starts (``manage.py serve``:
the web server and the django-q2 cluster), shared by the Postgres tests and the embedded
SQLite pass so both databases are drilled the same way. Each takes the ``start_refinery``
fixture, pytest's ``settings`` and a scratch folder, and asserts as it goes."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.db import connection

from builds.models import Artifact, BuildEvent, BuildJob
from builds.orphans import MARKER, container_prefix, output_prefix, stop_leftovers
from builds.plan_builds import enqueue_plan_builds
from tests.factories import PlanFactory, TargetFactory
from tests.podman_containers import containers_of
from tests.sdists import slow_sdist_node


def _slow_plan(
    settings: Any,
    tmp_path: Path,
    seconds: int,
    serve_sdist: Callable[[Path], tuple[str, str]] | None = None,
) -> BuildJob:
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    node = slow_sdist_node(tmp_path, seconds=seconds)
    if serve_sdist is not None:  # a container cannot read the host's file:// URL
        url, sha256 = serve_sdist(Path(urlparse(node["source"]["url"]).path))
        node["source"] = {**node["source"], "url": url, "sha256": sha256}
    plan = PlanFactory(target=target, dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")
    return BuildJob.objects.get(plan=plan)


def _build_folders(job_id: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"{output_prefix(job_id)}*"))


def _wait_for(job: BuildJob, until: Callable[[BuildJob], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.close()  # SQLite: a fresh read, not this connection's last snapshot
        job.refresh_from_db()
        if until(job):
            return
        time.sleep(0.3)


def _reclaimed_and_built_once(job: BuildJob, owner: str, since: float) -> float:
    """Waits for the job to be built again; answers how long until another worker had it."""
    reclaimed_after: float | None = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        connection.close()
        job.refresh_from_db()
        if reclaimed_after is None and job.lease_owner not in ("", owner):
            reclaimed_after = time.monotonic() - since
        if job.status in ("built", "failed"):
            break
        time.sleep(0.3)
    assert job.status == "built", (job.status, job.error)
    assert reclaimed_after is not None or job.attempts == 2
    assert Artifact.objects.filter(name="slowbuild").count() == 1
    gone = BuildEvent.objects.filter(job=job, message__contains="is gone").get()
    assert owner in gone.message
    assert stop_leftovers(job.pk) == ""  # nothing of the killed build runs on
    return reclaimed_after if reclaimed_after is not None else time.monotonic() - since


def kill_9_of_the_worker_mid_build(
    start_refinery: Any,
    settings: Any,
    tmp_path: Path,
    *,
    podman_serving: Callable[[Path], tuple[str, str]] | None = None,
) -> float:
    """kill -9 of the worker process in the middle of a build: the job is claimed again
    within a minute and built exactly once, the lost lease on its trail, nothing left running.
    With ``podman_serving`` (the ``serve_sdist`` fixture) the build runs in a podman
    container, and that container is stopped too."""
    job = _slow_plan(settings, tmp_path, seconds=12, serve_sdist=podman_serving)
    runner = "local" if podman_serving is None else "podman"
    start_refinery(cluster=True, env={"RUNNER": runner, "AUTO_BUILD": "true"})
    _wait_for(job, lambda j: j.status == "building", 120)
    assert job.status == "building", job.status
    # "Building" is recorded a moment before the build's folder is made (and its container
    # started): the kill must land once they exist, or there is nothing left to remove.
    _wait_for(job, lambda j: bool(_build_folders(j.pk)), 120)
    assert _build_folders(job.pk), "the build's folder was never made"
    if podman_serving is not None:
        _wait_for(job, lambda j: bool(containers_of(j.pk)), 120)
        assert containers_of(job.pk), "the build's container never started"
    owner = job.lease_owner
    os.kill(int(owner.rsplit(":", 1)[1]), signal.SIGKILL)
    reclaimed_after = _reclaimed_and_built_once(job, owner, time.monotonic())
    assert reclaimed_after < 60
    gone = BuildEvent.objects.filter(job=job, message__contains="is gone").get()
    # The killed build's folders were removed before it went again, its container too.
    assert "scratch folder(s) removed" in gone.message
    if podman_serving is not None:
        assert f"container {container_prefix(job.pk)}" in gone.message
        assert not containers_of(job.pk)
    assert job.attempts == 2
    return reclaimed_after


def kill_9_of_serve_and_a_restart(start_refinery: Any, settings: Any, tmp_path: Path) -> float:
    """The whole refinery killed (web server, cluster and build: a power cut, an OOM kill of
    the group) and started again: the new cluster reclaims the dead worker's build at once
    instead of waiting out its lease, and builds it exactly once."""
    job = _slow_plan(settings, tmp_path, seconds=12)
    env = {"RUNNER": "local", "AUTO_BUILD": "true"}
    start_refinery(cluster=True, env=env)
    _wait_for(job, lambda j: j.status == "building", 120)
    assert job.status == "building", job.status
    owner = job.lease_owner
    serve = start_refinery.servers[0]
    # Every process of the refinery but the build's own, which runs on orphaned (its
    # worker started it in a session of its own) for the new cluster to find and stop.
    for pid in [serve.pid, *_descendants(serve.pid)]:
        if not _is_build(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    serve.wait(timeout=30)
    killed_at = time.monotonic()
    start_refinery(cluster=True, env=env)
    reclaimed_after = _reclaimed_and_built_once(job, owner, killed_at)
    assert reclaimed_after < 60
    return reclaimed_after


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _is_build(pid: int) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(item.startswith(MARKER.encode() + b"=") for item in environ)


def sigterm_to_serve_mid_build(start_refinery: Any, settings: Any, tmp_path: Path) -> float:
    """SIGTERM to ``serve`` during a build: handed back within the grace period (its attempt
    refunded), never left ``building``, nothing of it running on. Answers how long serve took."""
    job = _slow_plan(settings, tmp_path, seconds=300)
    start_refinery(cluster=True, env={"RUNNER": "local", "SHUTDOWN_GRACE_SEC": "2"})
    serve = start_refinery.servers[0]
    _wait_for(job, lambda j: j.status == "building", 120)
    assert job.status == "building", job.status

    serve.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    serve.wait(timeout=60)
    took = time.monotonic() - stopped_at

    assert took < 20  # the 2 s grace and a hand-back, not serve's 30 s
    connection.close()
    job.refresh_from_db()
    trail = list(BuildEvent.objects.filter(job=job).values_list("to_status", "message"))
    assert (job.status, job.attempts, job.lease_owner) == ("pending", 0, ""), trail
    released = BuildEvent.objects.get(job=job, from_status="building", to_status="pending")
    assert released.message == "released by worker"
    assert stop_leftovers(job.pk) == ""
    return took
