#!/usr/bin/env python
"""What the refinery adds to a build: enqueue -> built for markupsafe 2.1.5 (amd64, podman),
beside a bare ``podman run … pip wheel`` of the same sdist in the same image, same run.

Ours includes everything between: the job row, the claim, the container, the build
script (download + sha256 check), auditwheel repair, hashing, content-addressed storage
and the manifest. Both share one warm pip cache; each is run once to warm up first.
Usage: bench/build_overhead.py [--runs 5]   (needs `make images`)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch_django import setup

SCRATCH = setup("bench-build-")

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from builds.images import image_exists, image_name, podman_env  # noqa: E402
from builds.models import Artifact, BuilderImage  # noqa: E402
from builds.plan_builds import enqueue_plan_builds  # noqa: E402
from builds.runners.podman import PodmanRunner  # noqa: E402
from builds.worker import LocalBuildQueue, drain  # noqa: E402
from plans.index_client import IndexClient  # noqa: E402
from plans.models import Plan, Target  # noqa: E402

IMAGE = image_name("debian-bookworm", "amd64")


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


def bare(node: dict[str, object], pip_cache: Path) -> float:
    source = node["source"]
    assert isinstance(source, dict)
    out = Path(tempfile.mkdtemp(prefix="bare-", dir=SCRATCH))
    argv = [
        settings.PODMAN_BIN,
        "run",
        "--rm",
        "--network",
        settings.RUNNER_NETWORK,
        "-v",
        f"{pip_cache}:/cache",
        "-v",
        f"{out}:/output",
        "-e",
        "PIP_CACHE_DIR=/cache/pip",
    ]
    if settings.RUNNER_CA_BUNDLE:
        argv += [
            "-v",
            f"{settings.RUNNER_CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro",
            "-e",
            "PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
        ]
    argv += [
        IMAGE,
        "python3",
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--use-pep517",
        "-w",
        "/output",
        str(source["url"]),
    ]
    env = podman_env()
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    elapsed = time.perf_counter() - started
    if not list(out.glob("*.whl")):
        raise SystemExit("the bare build produced no wheel")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not image_exists(IMAGE):
        raise SystemExit(f"{IMAGE} is missing: run `make images`")
    call_command("migrate", verbosity=0)
    BuilderImage.objects.update_or_create(
        preset="debian-bookworm", arch="amd64", defaults={"image": IMAGE}
    )
    node = sdist_node()
    runner = PodmanRunner.from_settings()
    pip_cache = Path(settings.VAR_DIR) / "cache" / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    ours(node, runner), bare(node, pip_cache)  # warm the pip cache and the page cache
    ours_times, bare_times = [], []
    for _ in range(args.runs):
        ours_times.append(ours(node, runner))
        bare_times.append(bare(node, pip_cache))
    mine, theirs = statistics.median(ours_times), statistics.median(bare_times)
    print(f"markupsafe 2.1.5, amd64, podman; median of {args.runs} (warm pip cache)")
    runs_ours = ", ".join(f"{t:.2f}" for t in ours_times)
    runs_bare = ", ".join(f"{t:.2f}" for t in bare_times)
    print(f"refinery enqueue -> built: {mine:.2f} s   runs: {runs_ours}")
    print(f"bare podman run pip wheel: {theirs:.2f} s   runs: {runs_bare}")
    overhead = f"{mine - theirs:+.2f} s ({(mine / theirs - 1) * 100:+.0f}%)"
    print(f"overhead: {overhead}  target: <= 1.5 s and <= 15%")


if __name__ == "__main__":
    main()
