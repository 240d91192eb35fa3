#!/usr/bin/env python
"""Scheduling quality: a 12-node plan on 2 build slots, against its lower bound.

The plan's build edges make some nodes wait for others, as build requirements do. Each
node's "build" takes a set time (a stand-in runner sleeps, then emits a valid pure wheel),
so what is measured is the refinery's own scheduling: DAG readiness in claims, slots
refilled as builds end, storage and bookkeeping between builds. The lower bound on the
makespan is max(critical path, total work / slots); the target is within 1.05x of it. It
also prints the best schedule any claim order could reach, and how long enqueueing took.
``--wide N`` also builds a plan of N independent nodes that take no time, so all that is
measured is the bookkeeping per build (claim, start, store, complete, the plan's manifest).
Usage: bench/dag_makespan.py [--scale 1.0] [--wide 200]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import math
import sys
import time
import zipfile
from collections.abc import Callable
from itertools import combinations
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
from refinery.lib.numbers import natural_number  # noqa: E402

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


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


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
        members = {
            f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {spec.name}\n"
            f"Version: {spec.version}\n".encode(),
            f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        }
        record = "".join(
            f"{name},{_record_hash(data)},{len(data)}\n" for name, data in members.items()
        )
        with zipfile.ZipFile(wheel, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
            archive.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
        return RunResult(0, [wheel], time.monotonic() - started, "")


def critical_path(seconds: dict[str, float]) -> float:
    finish: dict[str, float] = {}

    def earliest(name: str) -> float:
        if name not in finish:
            finish[name] = seconds[name] + max((earliest(d) for d in NODES[name][1]), default=0.0)
        return finish[name]

    return max(earliest(name) for name in NODES)


def best_schedule(seconds: dict[str, float]) -> float:
    """The shortest makespan any scheduler that never idles a slot with work ready could
    reach (every choice of what to start tried): what a perfect claim order gives."""
    best = float("inf")

    def explore(now: float, done: frozenset[str], running: tuple[tuple[float, str], ...]) -> None:
        nonlocal best
        started = done | {name for _, name in running}
        ready = [n for n in NODES if n not in started and all(d in done for d in NODES[n][1])]
        room = SLOTS - len(running)
        if not ready and not running:
            best = min(best, now)
            return
        if room and ready:
            for chosen in combinations(ready, min(room, len(ready))):
                runs = tuple(sorted([*running, *((now + seconds[n], n) for n in chosen)]))
                _advance(runs, done)
            return
        _advance(running, done)

    def _advance(running: tuple[tuple[float, str], ...], done: frozenset[str]) -> None:
        end = running[0][0]
        if end >= best:
            return
        finished = frozenset(n for t, n in running if t == end)
        explore(end, done | finished, tuple(r for r in running if r[0] != end))

    explore(0.0, frozenset(), ())
    return best


def run_plan(
    target: Target,
    version: str,
    seconds: dict[str, float],
    nodes: dict[str, tuple[float, list[str]]] = NODES,
) -> tuple[float, float]:
    """Enqueue the plan of ``nodes`` (the 12 above) at ``version`` and build it on SLOTS
    slots; the makespan and, of it, the time enqueueing took."""
    source = {"kind": "sdist", "url": "https://example.invalid/x.tar.gz", "sha256": "0" * 64}
    dag = {
        "nodes": [
            {
                "name": n,
                "version": version,
                "action": "build",
                "roles": ["runtime"],
                "source": source,
            }
            for n in nodes
        ],
        "edges": [
            {"from": f"{n}=={version}", "to": f"{d}=={version}", "kind": "build"}
            for n, (_, deps) in nodes.items()
            for d in deps
        ],
    }
    plan = Plan.objects.create(target=target, strategy="pinned", dag=dag)
    started = time.perf_counter()
    enqueue_plan_builds(plan, actor="bench")
    enqueued = time.perf_counter() - started
    built = drain(
        LocalBuildQueue(arches=["x86_64"]), TimedRunner(seconds), "bench", pool_size=SLOTS
    )
    makespan = time.perf_counter() - started
    statuses = set(BuildJob.objects.filter(plan=plan).values_list("status", flat=True))
    if built != len(nodes) or statuses != {"built"}:
        raise SystemExit(f"only {built} of {len(nodes)} built ({statuses})")
    return makespan, enqueued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale", type=_positive, default=1.0, help="multiply every build time (above 0)"
    )
    parser.add_argument(
        "--wide", type=_node_count, default=0, metavar="N", help="also N independent instant builds"
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    seconds = {name: duration * args.scale for name, (duration, _) in NODES.items()}
    target, _ = Target.objects.get_or_create(
        python_version="3.11", platform_tag="manylinux_2_17_x86_64"
    )
    path, work = critical_path(seconds), sum(seconds.values())
    bound = max(path, work / SLOTS)
    best = best_schedule(seconds)
    print(f"{len(NODES)} nodes on {SLOTS} slots: critical path {path:.2f} s, work {work:.2f} s")
    print(f"lower bound {bound:.2f} s; the best schedule possible {best:.2f} s")
    # First plan: nothing built before, so the claim order knows chain lengths, not times.
    # Second plan, the same packages at a new version: their earlier build times are known.
    for label, version in (("no build history", "1.0"), ("build times known", "2.0")):
        makespan, enqueued = run_plan(target, version, seconds)
        print(
            f"{label:>18}: makespan {makespan:.3f} s (enqueueing {enqueued * 1000:.0f} ms);"
            f" {makespan / bound:.3f}x the lower bound, {makespan / best:.3f}x the best"
            f" schedule (target <= 1.05x the bound: {bound * 1.05:.3f} s)"
        )
    if args.wide:
        wide: dict[str, tuple[float, list[str]]] = {
            f"w{i:04d}": (0.0, []) for i in range(args.wide)
        }
        makespan, enqueued = run_plan(target, "1.0", dict.fromkeys(wide, 0.0), wide)
        print(
            f"{args.wide} instant builds on {SLOTS} slots: {makespan:.2f} s (enqueueing"
            f" {enqueued:.2f} s), {makespan / args.wide * 1000:.1f} ms a build"
        )


def _node_count(text: str) -> int:
    count = natural_number(text)
    if count is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of nodes")
    return count


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number above 0")
    return value


if __name__ == "__main__":
    main()
