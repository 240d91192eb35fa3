#!/usr/bin/env python
"""What the refinery adds to a build: enqueue -> built for markupsafe 2.1.5 (amd64, podman),
beside a bare ``podman run … pip wheel`` of the same sdist in the same image, same run.

Ours includes everything between: the job row, the claim, the container, the build
script (download + sha256 check), auditwheel repair, hashing, content-addressed storage
and the manifest. Neither keeps a pip cache between runs (our builds keep none: a shared
cache would let one build plant files for another); each is run once to warm up first.
Usage: bench/build_overhead.py [--runs 5]   (needs `make images`)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch_django import setup

SCRATCH = setup("bench-build-")

from django.conf import settings  # noqa: E402
from peers import amd64_builder, bare_pip_wheel  # noqa: E402

from builds.models import Artifact  # noqa: E402
from builds.plan_builds import enqueue_plan_builds  # noqa: E402
from builds.runners.podman import PodmanRunner  # noqa: E402
from builds.worker import LocalBuildQueue, drain  # noqa: E402
from plans.index_client import IndexClient  # noqa: E402
from plans.models import Plan, Target  # noqa: E402


def sdist_node() -> dict[str, object]:
    with IndexClient([settings.INDEX_URL], SCRATCH / "index") as client:
        dist = next(
            f for f in client.project("markupsafe").files if f.filename == "MarkupSafe-2.1.5.tar.gz"
        )
    return {
        "name": "markupsafe",
        "version": "2.1.5",
        "action": "build",
        "roles": ["runtime"],
        "source": {"kind": "sdist", **dist.as_source()},
    }


def ours(node: dict[str, object], runner: PodmanRunner) -> float:
    Artifact.objects.filter(name="markupsafe").delete()  # else the node would be "cached"
    target, _ = Target.objects.get_or_create(
        python_version="3.11", platform_tag="manylinux_2_17_x86_64"
    )
    plan = Plan.objects.create(target=target, strategy="pinned", dag={"nodes": [node], "edges": []})
    started = time.perf_counter()
    enqueue_plan_builds(plan, actor="bench")
    built = drain(LocalBuildQueue(arches=["x86_64"]), runner, "bench", pool_size=1)
    elapsed = time.perf_counter() - started
    if built != 1 or not Artifact.objects.filter(name="markupsafe").exists():
        raise SystemExit("the refinery did not build markupsafe; see its job log")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    amd64_builder()
    node = sdist_node()
    runner = PodmanRunner.from_settings()
    ours(node, runner), bare_pip_wheel(node, SCRATCH)  # warm the page cache
    ours_times, bare_times = [], []
    for _ in range(args.runs):
        ours_times.append(ours(node, runner))
        bare_times.append(bare_pip_wheel(node, SCRATCH))
    mine, theirs = statistics.median(ours_times), statistics.median(bare_times)
    print(f"markupsafe 2.1.5, amd64, podman; median of {args.runs} (no pip cache)")
    runs_ours = ", ".join(f"{t:.2f}" for t in ours_times)
    runs_bare = ", ".join(f"{t:.2f}" for t in bare_times)
    print(f"refinery enqueue -> built: {mine:.2f} s   runs: {runs_ours}")
    print(f"bare podman run pip wheel: {theirs:.2f} s   runs: {runs_bare}")
    overhead = f"{mine - theirs:+.2f} s ({(mine / theirs - 1) * 100:+.0f}%)"
    print(f"overhead: {overhead}  target: <= 5%")


if __name__ == "__main__":
    main()
