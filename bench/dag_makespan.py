#!/usr/bin/env python
"""Scheduling quality: a 12-node plan on 2 build slots, against its lower bound.

The plan's build edges make some nodes wait for others, as build requirements do. Each
node's "build" takes a set time (a stand-in runner sleeps, then emits a valid pure wheel),
so what is measured is the refinery's own scheduling: DAG readiness in claims, slots
refilled as builds end, storage and bookkeeping between builds. The lower bound on the
makespan is max(critical path, total work / slots); the target is within 1.2x of it.
Usage: bench/dag_makespan.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch_django import setup

SCRATCH = setup("bench-dag-")

from django.core.management import call_command  # noqa: E402

from builds.log_sink import LogSink  # noqa: E402
from builds.models import BuildJob  # noqa: E402
from builds.plan_builds import enqueue_plan_builds  # noqa: E402
from builds.runners.base import BuildSpec, RunResult  # noqa: E402
from builds.worker import LocalBuildQueue, drain  # noqa: E402
from plans.models import Plan, Target  # noqa: E402

SLOTS = 2
# node: (seconds, build requirements)
NODES: dict[str, tuple[float, list[str]]] = {
    "n01": (2.0, []),
    "n02": (1.0, ["n01"]),
    "n03": (1.5, ["n01"]),
    "n04": (1.0, []),
    "n05": (2.5, ["n04"]),
    "n06": (1.0, ["n02", "n05"]),
    "n07": (1.0, []),
    "n08": (0.5, ["n07"]),
    "n09": (1.5, ["n03"]),
    "n10": (1.0, ["n06"]),
    "n11": (0.5, []),
    "n12": (1.0, ["n09", "n10"]),
}


class TimedRunner:
    """Builds nothing: takes the node's time, then writes a minimal valid wheel."""

    name = "timed"

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    def run(
        self, spec: BuildSpec, output_dir: Path, sink: LogSink, cancelled: Callable[[], bool]
    ) -> RunResult:
        started = time.monotonic()
        time.sleep(self.seconds[spec.name])
        output_dir.mkdir(parents=True, exist_ok=True)
        wheel = output_dir / f"{spec.name}-{spec.version}-py3-none-any.whl"
        info = f"{spec.name}-{spec.version}.dist-info"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(
                f"{info}/METADATA",
                f"Metadata-Version: 2.1\nName: {spec.name}\nVersion: {spec.version}\n",
            )
            archive.writestr(
                f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            )
            archive.writestr(f"{info}/RECORD", "")
        return RunResult(0, [wheel], time.monotonic() - started, "")


def critical_path(seconds: dict[str, float]) -> float:
    finish: dict[str, float] = {}

    def earliest(name: str) -> float:
        if name not in finish:
            finish[name] = seconds[name] + max((earliest(d) for d in NODES[name][1]), default=0.0)
        return finish[name]

    return max(earliest(name) for name in NODES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every build time")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    seconds = {name: duration * args.scale for name, (duration, _) in NODES.items()}
    target, _ = Target.objects.get_or_create(
        python_version="3.11", platform_tag="manylinux_2_17_x86_64"
    )
    source = {"kind": "sdist", "url": "https://example.invalid/x.tar.gz", "sha256": "0" * 64}
    dag = {
        "nodes": [
            {"name": n, "version": "1.0", "action": "build", "roles": ["runtime"], "source": source}
            for n in NODES
        ],
        "edges": [
            {"from": f"{n}==1.0", "to": f"{d}==1.0", "kind": "build"}
            for n, (_, deps) in NODES.items()
            for d in deps
        ],
    }
    plan = Plan.objects.create(target=target, strategy="pinned", dag=dag)
    started = time.perf_counter()
    enqueue_plan_builds(plan, actor="bench")
    built = drain(
        LocalBuildQueue(arches=["x86_64"]), TimedRunner(seconds), "bench", pool_size=SLOTS
    )
    makespan = time.perf_counter() - started
    statuses = set(BuildJob.objects.filter(plan=plan).values_list("status", flat=True))
    if built != len(NODES) or statuses != {"built"}:
        raise SystemExit(f"only {built} of {len(NODES)} built ({statuses})")
    path, work = critical_path(seconds), sum(seconds.values())
    bound = max(path, work / SLOTS)
    print(f"{len(NODES)} nodes on {SLOTS} slots: critical path {path:.2f} s, work {work:.2f} s")
    print(
        f"lower bound {bound:.2f} s; makespan {makespan:.2f} s; ratio {makespan / bound:.2f}"
        f" (target <= 1.20)"
    )


if __name__ == "__main__":
    main()
