#!/usr/bin/env python
"""Lean builds: a trivial pure-Python sdist (six 1.16.0) from enqueue to built, through the
running task cluster and the sandboxed podman runner, as a plan's builds go after upload;
beside a bare ``podman run … pip wheel`` of the same sdist in the same image, same run.

Ours: the plan's build task queued -> the cluster picks it up -> the job row, the claim,
the container (download, sha256, pip wheel with an isolated build environment), the wheel's
checks, hashing, storage and the manifest. Neither side shares a pip cache between runs
(our builds keep none: a shared cache would let one build plant files for another).
Phases come from the job's own timestamps and its log.
Usage: bench/lean_build.py [--runs 7]   (needs `make images`; the embedded SQLite default,
or DATABASE_URL for Postgres)
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch_django import ROOT, setup

SCRATCH = setup("bench-lean-")

from django.conf import settings  # noqa: E402
from django_q.tasks import async_task  # noqa: E402
from peers import amd64_builder, bare_pip_wheel  # noqa: E402

from builds.models import Artifact, BuildJob  # noqa: E402
from plans.index_client import IndexClient  # noqa: E402
from plans.models import Plan, Target  # noqa: E402

NAME, VERSION, SDIST = "six", "1.16.0", "six-1.16.0.tar.gz"
GOAL_SEC = 5.0


def sdist_node() -> dict[str, object]:
    with IndexClient([settings.INDEX_URL], SCRATCH / "index") as client:
        dist = next(f for f in client.project(NAME).files if f.filename == SDIST)
    return {
        "name": NAME,
        "version": VERSION,
        "action": "build",
        "roles": ["runtime"],
        "source": {"kind": "sdist", **dist.as_source()},
    }


def start_cluster() -> subprocess.Popen[bytes]:
    log = open(SCRATCH / "qcluster.log", "wb")  # noqa: SIM115 - lives as long as the cluster
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env={**os.environ, "RUNNER": "podman"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def ours(node: dict[str, object]) -> tuple[float, dict[str, float]]:
    Artifact.objects.filter(name=NAME).delete()  # else the node would be "cached"
    target, _ = Target.objects.get_or_create(
        python_version="3.11", platform_tag="manylinux_2_17_x86_64"
    )
    plan = Plan.objects.create(target=target, strategy="pinned", dag={"nodes": [node], "edges": []})
    started = time.perf_counter()
    async_task("builds.tasks.enqueue_plan_builds", plan.pk, task_name="bench")
    deadline = started + 300
    while time.perf_counter() < deadline:
        job = BuildJob.objects.filter(plan=plan).first()
        if job is not None and job.status in ("built", "failed", "retry"):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    if job is None or job.status != "built":
        raise SystemExit(f"six was not built (job: {job and job.status}); see {SCRATCH}")
    enqueued = job.enqueued_at.timestamp()
    assert job.started_at is not None
    assert job.finished_at is not None
    phases = {
        "task -> job row": enqueued - (time.time() - elapsed),  # q2 picking the task up
        "row -> started": job.started_at.timestamp() - enqueued,
        "started -> finished": (job.finished_at - job.started_at).total_seconds(),
    }
    return elapsed, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    amd64_builder()
    node = sdist_node()
    cluster = start_cluster()
    try:
        (
            ours(node),
            bare_pip_wheel(node, SCRATCH),
        )  # the cluster's first task and the page cache warm up
        ours_times, bare_times, phases = [], [], []
        for _ in range(args.runs):
            elapsed, phase = ours(node)
            ours_times.append(elapsed)
            phases.append(phase)
            bare_times.append(bare_pip_wheel(node, SCRATCH))
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a drain loop still waiting for its next poll
            os.killpg(cluster.pid, signal.SIGKILL)
    mine, theirs = statistics.median(ours_times), statistics.median(bare_times)
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"{NAME} {VERSION} (pure Python sdist), amd64, podman, {database}; {args.runs} runs")
    print(f"refinery enqueue -> built: p50 {mine:.2f} s  runs: {fmt(ours_times)}")
    for key in phases[0]:
        print(f"  {key:>20}: p50 {statistics.median(p[key] for p in phases):.2f} s")
    print(f"bare podman run pip wheel: p50 {theirs:.2f} s  runs: {fmt(bare_times)}")
    print(f"ratio ours/bare: {mine / theirs:.2f}  goal: p50 <= {GOAL_SEC:.0f} s")


def fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


if __name__ == "__main__":
    main()
