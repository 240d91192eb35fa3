#!/usr/bin/env python
"""From source, against fromager: ``manage.py refine --no-binary :all:`` of the shared small
set (every wheel and every build requirement built from its sdist, in DAG order, on the
amd64 podman builder), cold and as a no-op re-run; then fromager's ``bootstrap`` of the same
file, cold and no-op, in the same run, one after the other.

Ours targets the builder's own policy (cp311-manylinux_2_36_x86_64: cffi links libffi,
whose symbols are newer than manylinux_2_17 allows); fromager builds for the host
(linux_x86_64) with no policy at all. Both start with empty stores and no pip cache.
fromager needs Python >= 3.12:
  python3.12 -m venv /tmp/fromager-venv && /tmp/fromager-venv/bin/pip install fromager
Usage: bench/from_source.py [--fromager /tmp/fromager-venv/bin/fromager]   (needs `make images`)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT.parent / "shared" / "bench" / "requirements-small.txt"
TARGET = "cp311-manylinux_2_36_x86_64"
# Measured on this kind of machine (../shared/NOTES-machine.md), for when fromager is not here.
FROMAGER_NOTES = (315.0, 10.6)


def timed(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("ab") as out:
        done = subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}… failed (exit {done.returncode}); see {log}")
    return elapsed


def ours(scratch: Path, requirements: Path) -> tuple[float, float, int]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{scratch / 'refinery.sqlite3'}",
        "VAR_DIR": str(scratch / "var"),
        "STORAGE_ROOT": str(scratch / "storage"),
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    log = scratch / "refine.log"
    timed([*manage, "migrate", "--verbosity", "0"], cwd=scratch, env=env, log=log)
    image = [*manage, "build_image", "--arch", "amd64", "--if-missing"]
    timed(image, cwd=scratch, env=env, log=log)
    refine = [*manage, "refine", "--no-binary", ":all:", "--runner", "podman"]
    refine += ["--target", TARGET, str(requirements)]
    cold = timed(refine, cwd=scratch, env=env, log=log)
    noop = timed(refine, cwd=scratch, env=env, log=log)
    return cold, noop, _stored_wheels(manage, scratch, env)


def _stored_wheels(manage: list[str], scratch: Path, env: dict[str, str]) -> int:
    code = "from builds.models import Artifact; print(Artifact.objects.count())"
    shell = subprocess.run(
        [*manage, "shell", "-c", code], cwd=scratch, env=env, capture_output=True, text=True
    )
    return int((shell.stdout.strip().splitlines() or ["0"])[-1])  # after Django's banner


def fromager(binary: Path, scratch: Path, requirements: Path) -> tuple[float, float, int]:
    work = scratch / "fromager"
    work.mkdir()
    # Its network isolation runs uv from its own venv.
    env = {**os.environ, "PATH": f"{binary.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    argv = [str(binary), "--sdists-repo", "sdists-repo", "--wheels-repo", "wheels-repo"]
    argv += ["--work-dir", "work-dir", "bootstrap", "-r", str(requirements)]
    log = scratch / "fromager.log"
    cold = timed(argv, cwd=work, env=env, log=log)
    noop = timed(argv, cwd=work, env=env, log=log)
    wheels = len(list((work / "wheels-repo" / "downloads").glob("*.whl")))
    return cold, noop, wheels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fromager", type=Path, help="fromager's executable (Python >= 3.12)")
    parser.add_argument("--requirements", type=Path, default=SMALL)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-from-source-"))
    cold, noop, built = ours(scratch, args.requirements.resolve())
    print(f"{args.requirements.name}, every wheel from its sdist, amd64 (scratch: {scratch})")
    print(f"refinery refine --no-binary :all: ({TARGET}, podman): {built} wheels")
    print(f"  cold {cold:.1f} s   no-op {noop:.2f} s   goal: cold < fromager, no-op < 2 s")
    if args.fromager is not None:
        their_cold, their_noop, theirs = fromager(args.fromager, scratch, args.requirements)
        print(f"fromager bootstrap (linux_x86_64, host): {theirs} wheels, same run")
    else:
        their_cold, their_noop = FROMAGER_NOTES
        print("fromager bootstrap: not run (--fromager); figures from NOTES-machine.md")
    print(f"  cold {their_cold:.1f} s   no-op {their_noop:.2f} s")
    print(f"ratio ours/fromager: cold {cold / their_cold:.2f}   no-op {noop / their_noop:.2f}")


if __name__ == "__main__":
    main()
