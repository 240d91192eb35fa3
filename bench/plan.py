#!/usr/bin/env python
"""Planning speed beside pip and uv, in the same run, against real PyPI.

For the shared small set (5 pins) and medium set (25 unpinned names) it times, as whole
processes (interpreter start included, as for pip and uv):

- ours, runtime closure only (what pip and uv compute) and the full plan (plus every
  build environment of what must be built), cold (empty cache) and warm (a re-plan
  inside the index TTL);
- ``pip install --dry-run --ignore-installed --report`` (host only: pip cannot resolve
  for another platform without --only-binary), cold and warm;
- ``uv pip compile``, for the host and with ``--python-platform s390x-unknown-linux-gnu``,
  cold and warm, and warm with ``--offline`` (from its cache alone);
- ours again inside a running planner (a plan worker's re-plan: no interpreter start or
  imports), after a full plan filled the cache.

It prints seconds, package counts and ratios (ours / theirs: below 1 is faster).
Usage: bench/plan.py [--sets small medium] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
PYPI = "https://pypi.org/simple/"
HOST_PLATFORM_UV = "x86_64-unknown-linux-gnu"
PYTHON_FULL = ".".join(str(p) for p in sys.version_info[:3])


def _ours(file: Path, platform: str, cache: Path, mode: str) -> int:
    """Child process: plan ``file`` and print the number of packages (no Django needed)."""
    sys.path.insert(0, str(ROOT))
    from packaging.requirements import Requirement

    from inputs.target_env import TargetEnvironment
    from plans.dag import build_plan_dag
    from plans.index_client import IndexClient

    env = TargetEnvironment(PYTHON_FULL, platform)
    requirements = []
    for line in file.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            if env.evaluate(requirement.marker):
                requirement.marker = None
                requirements.append(requirement)
    with IndexClient([PYPI], cache, ttl=600) as client:
        if mode == "runtime":
            # Imported only here, as the planner does: a warm re-plan never loads the resolver.
            from plans.resolver import resolve

            return len(resolve(requirements, client, env).packages)
        if mode == "replan":  # a running plan worker planning the same input again
            build_plan_dag(requirements, client, env)
            started = time.perf_counter()
            with IndexClient([PYPI], cache, ttl=600) as again:
                build_plan_dag(requirements, again, env)
            print(f"{time.perf_counter() - started:.4f}", file=sys.stderr)
            return 0
        return len(build_plan_dag(requirements, client, env).nodes)


def host_platform() -> str:
    from packaging import tags

    return next(t.platform for t in tags.sys_tags() if t.platform.startswith("manylinux"))


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} failed:\n{result.stderr[-2000:]}")
    return elapsed, result.stdout


def pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # the host's pip config adds local indexes
    env["PIP_CERT"] = os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run_pip(file: Path, cache: Path, scratch: Path) -> tuple[float, int]:
    report = scratch / "pip-report.json"
    elapsed, _ = timed(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--index-url",
            PYPI,
            "--cache-dir",
            str(cache),
            "--report",
            str(report),
            "-r",
            str(file),
        ],
        pip_env(),
    )
    return elapsed, len(json.loads(report.read_text())["install"])


def run_replan_in_process(file: Path, cache: Path, platform: str) -> float:
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(file), platform, str(cache), "replan"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        raise SystemExit(f"in-process re-plan failed:\n{result.stderr[-2000:]}")
    return float(result.stderr.strip().splitlines()[-1])


def run_uv(file: Path, cache: Path, platform: str, *, offline: bool = False) -> tuple[float, int]:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is not installed (it is in the dev extra: pip install -e '.[dev]')")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env["UV_CACHE_DIR"] = str(cache)
    env["SSL_CERT_FILE"] = os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    elapsed, out = timed(
        [
            uv,
            "pip",
            "compile",
            str(file),
            "--python-version",
            PYTHON_FULL,
            "--python-platform",
            platform,
            "--index-url",
            PYPI,
            "--no-header",
            "--no-annotate",
            "--quiet",
            *(["--offline"] if offline else []),
        ],
        env,
    )
    pins = [line for line in out.splitlines() if "==" in line and not line.startswith("#")]
    return elapsed, len(pins)


def run_uv_offline(file: Path, cache: Path, platform: str) -> tuple[float, int]:
    """Cold: an ordinary run that fills the cache; warm: ``--offline``, from the cache only."""
    filled = cache / "bench-filled"
    if not filled.exists():
        result = run_uv(file, cache, platform)
        filled.touch()
        return result
    return run_uv(file, cache, platform, offline=True)


def run_ours_in_process(file: Path, cache: Path, platform: str) -> tuple[float, int]:
    """Cold: a full plan that fills the cache; warm: the same plan again inside a running
    planner (what a plan worker does), without the interpreter's start and imports."""
    filled = cache / "bench-filled"
    if not filled.exists():
        result = run_ours(file, cache, platform, "full")
        filled.touch()
        return result
    return run_replan_in_process(file, cache, platform), 0


def run_ours(file: Path, cache: Path, platform: str, mode: str) -> tuple[float, int]:
    elapsed, out = timed(
        [sys.executable, __file__, "--child", str(file), platform, str(cache), mode]
    )
    return elapsed, int(out.strip())


def measure_set(file: Path, host: str, repeat: int) -> dict[str, dict[str, float | int]]:
    """Median cold time (fresh cache each run) and warm time (same cache, run again) of each
    tool. Runs are interleaved (one round of every tool, ``repeat`` times), so drift in the
    network or the machine during the benchmark falls on all of them alike."""
    s390x = "manylinux_2_17_s390x"
    runs: dict[str, Callable[[Path, Path], tuple[float, int]]] = {
        "ours host runtime": lambda c, s: run_ours(file, c, host, "runtime"),
        "ours host full": lambda c, s: run_ours(file, c, host, "full"),
        "pip host": lambda c, s: run_pip(file, c, s),
        "uv host": lambda c, s: run_uv(file, c, HOST_PLATFORM_UV),
        "ours s390x runtime": lambda c, s: run_ours(file, c, s390x, "runtime"),
        "ours s390x full": lambda c, s: run_ours(file, c, s390x, "full"),
        "uv s390x": lambda c, s: run_uv(file, c, "s390x-unknown-linux-gnu"),
        "uv s390x --offline": lambda c, s: run_uv_offline(file, c, "s390x-unknown-linux-gnu"),
        "ours s390x in-process": lambda c, s: run_ours_in_process(file, c, s390x),
    }
    colds: dict[str, list[float]] = {who: [] for who in runs}
    warms: dict[str, list[float]] = {who: [] for who in runs}
    counts: dict[str, int] = {}
    for _ in range(repeat):
        for who, run in runs.items():
            with tempfile.TemporaryDirectory(prefix="bench-plan-") as scratch:
                cache = Path(scratch) / "cache"
                cold, counts[who] = run(cache, Path(scratch))
                warm, _ = run(cache, Path(scratch))
            colds[who].append(cold)
            warms[who].append(warm)
    return {
        who: {
            "cold": statistics.median(colds[who]),
            "warm": statistics.median(warms[who]),
            "packages": counts[who],
        }
        for who in runs
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        requirements, platform, cache, mode = sys.argv[2:6]
        print(_ours(Path(requirements), platform, Path(cache), mode))
        gc.freeze()  # the process ends, as manage.py's does (see there)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=["small", "medium"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    host = host_platform()
    rows = [
        (name, measure_set(SHARED / f"requirements-{name}.txt", host, args.repeat))
        for name in args.sets
    ]

    print(
        f"median of {args.repeat} runs; Python {PYTHON_FULL}; host {host}; {os.cpu_count()} cores"
    )
    print(f"{'set':<7} {'who':<20} {'cold s':>7} {'warm s':>7} {'pkgs':>5}")
    for name, measured in rows:
        for who, figures in measured.items():
            print(
                f"{name:<7} {who:<20} {figures['cold']:>7.2f} {figures['warm']:>7.2f} "
                f"{figures['packages']:>5}"
            )
        ours_h, pip_h, uv_h = (
            measured["ours host runtime"],
            measured["pip host"],
            measured["uv host"],
        )
        ours_z, uv_z = measured["ours s390x runtime"], measured["uv s390x"]
        print(
            f"{name:<7} ratios (runtime closure, ours/theirs): "
            f"host cold vs pip {ours_h['cold'] / pip_h['cold']:.2f}, "
            f"vs uv {ours_h['cold'] / uv_h['cold']:.2f}; "
            f"s390x cold vs uv {ours_z['cold'] / uv_z['cold']:.2f}; "
            f"s390x full / runtime cold "
            f"{measured['ours s390x full']['cold'] / ours_z['cold']:.2f}; "
            f"warm re-plan (full) host {measured['ours host full']['warm']:.2f} s, "
            f"s390x {measured['ours s390x full']['warm']:.2f} s, in a running planner "
            f"{measured['ours s390x in-process']['warm'] * 1000:.1f} ms; "
            f"uv --offline {measured['uv s390x --offline']['warm']:.2f} s"
        )


if __name__ == "__main__":
    main()
