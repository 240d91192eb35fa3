"""Repair bench: refine each sdist of the corpus (bench/repair/corpus.toml) from source with
the podman runner, as a new user would, and report what repair made of it.

Each case runs in a refinery of its own (its own VAR_DIR and SQLite database, nothing but
the seeded catalog and what it infers), exactly as the hidden check does it:

    manage.py refine FILE --runner podman --no-binary NAME --target cp311-manylinux_2_36_x86_64

(``--arch s390x`` targets cp311-manylinux_2_36_s390x on the emulated s390x builder.)

Reported per case: the outcome, whether it is the expected one (repair and control cases
must build, negatives must fail with their problems listed), the repair rounds, the packages
chosen and whether the catalog, inference or both found them, and the wall time. With
``--compare``, every repaired case is built again in a fresh refinery whose package hint
gives it the final recipes up front: the time a build takes when someone already knew.

    .venv/bin/python bench/repair.py [--cases psycopg2,lxml] [--kind repair] [--parallel 2]
                                    [--compare] [--arch amd64|s390x] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "bench" / "repair" / "corpus.toml"
TARGETS = {"amd64": "cp311-manylinux_2_36_x86_64", "s390x": "cp311-manylinux_2_36_s390x"}
PYTHON = str(ROOT / ".venv" / "bin" / "python")


@dataclass
class Outcome:
    name: str
    version: str
    kind: str
    status: str = "not run"
    reason: str = ""
    rounds: int = 0
    packages: list[str] = field(default_factory=list)
    fixed_by: str = ""
    seconds: float = 0.0
    upfront_seconds: float | None = None
    error: str = ""
    ok: bool = False


def _env(var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "VAR_DIR": str(var_dir),
        "CONTENTS_INDEX_DIR": os.environ.get("CONTENTS_INDEX_DIR", str(ROOT / "var" / "contents")),
        "DATABASE_URL": f"sqlite:///{var_dir / 'refinery.sqlite3'}",
        "LOG_LEVEL": "WARNING",
        "AUTO_PLAN": "false",
    }


def _manage(var_dir: Path, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", *argv],
        cwd=ROOT,
        env=_env(var_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _fresh_refinery(var_dir: Path, arch: str) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    for argv in (
        ("migrate", "--no-input", "-v0"),
        ("build_image", "--arch", arch, "--if-missing"),
    ):
        done = _manage(var_dir, *argv)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed in {var_dir}: {done.stderr.strip()[-300:]}")


def _refine(var_dir: Path, case: dict[str, Any], arch: str) -> float:
    requirements = var_dir / f"{case['name']}.txt"
    requirements.write_text(f"{case['name']}=={case['version']}\n")
    started = time.monotonic()
    done = _manage(
        var_dir,
        "refine",
        str(requirements),
        "--runner",
        "podman",
        "--no-binary",
        case["name"],
        "--target",
        TARGETS[arch],
        "--timeout",
        "3600",
        timeout=4000,
    )
    # What refine printed, for a look at a case that went wrong.
    (var_dir / "refine.log").write_text(done.stdout + done.stderr)
    return time.monotonic() - started


def _job(var_dir: Path, name: str) -> dict[str, Any] | None:
    database = sqlite3.connect(var_dir / "refinery.sqlite3")
    database.row_factory = sqlite3.Row
    canonical = name.lower().replace("_", "-").replace(".", "-")
    row = database.execute(
        "SELECT status, failure_reason, error, repair_rounds, recipes, recipe_origins "
        "FROM builds_buildjob WHERE name = ? ORDER BY id DESC LIMIT 1",
        (canonical,),
    ).fetchone()
    database.close()
    return dict(row) if row is not None else None


def _fixed_by(origins: list[dict[str, Any]]) -> str:
    catalog = any("hint" in origin for origin in origins)
    inferred = any("problem" in origin for origin in origins)
    return {(True, True): "both", (True, False): "catalog", (False, True): "inference"}.get(
        (catalog, inferred), ""
    )


def run_case(case: dict[str, Any], root: Path, compare: bool, arch: str) -> Outcome:
    outcome = Outcome(case["name"], case["version"], case["kind"])
    var_dir = root / case["name"]
    _fresh_refinery(var_dir, arch)
    outcome.seconds = round(_refine(var_dir, case, arch), 1)
    job = _job(var_dir, case["name"])
    if job is None:
        outcome.status = "no job (planning failed?)"
        return outcome
    recipes = json.loads(job["recipes"] or "[]")
    origins = json.loads(job["recipe_origins"] or "[]")
    outcome.status, outcome.reason = job["status"], job["failure_reason"]
    outcome.rounds = job["repair_rounds"]
    outcome.packages = [p for r in recipes if r["type"] == "system_packages" for p in r["packages"]]
    outcome.fixed_by = _fixed_by(origins)
    outcome.error = (job["error"] or "")[:300]
    if case["kind"] == "repair":
        outcome.ok = outcome.status == "built"
    elif case["kind"] == "control":
        outcome.ok = outcome.status == "built" and not recipes
    else:
        outcome.ok = outcome.status == "failed" and bool(outcome.error)
    if compare and case["kind"] == "repair" and outcome.status == "built" and recipes:
        outcome.upfront_seconds = round(_upfront(root, case, recipes, arch), 1)
    return outcome


def _upfront(root: Path, case: dict[str, Any], recipes: list[dict[str, Any]], arch: str) -> float:
    """The same build in a fresh refinery that knows the recipes before the first attempt."""
    var_dir = root / f"{case['name']}-upfront"
    _fresh_refinery(var_dir, arch)
    canonical = case["name"].lower().replace("_", "-").replace(".", "-")
    code = (
        "from hints.models import Hint; Hint.objects.create(name='known', scope='package', "
        f"package={canonical!r}, pattern='', preset='debian-bookworm', recipes={recipes!r})"
    )
    created = _manage(var_dir, "shell", "-c", code)
    if created.returncode != 0:
        raise SystemExit(f"could not add the up-front hint: {created.stderr[-300:]}")
    return _refine(var_dir, case, arch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", help="comma-separated names (default: all)")
    parser.add_argument("--kind", choices=["repair", "control", "negative"])
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--compare", action="store_true", help="time builds with recipes up front")
    parser.add_argument("--root", default="/tmp/refinery-repair-bench")
    parser.add_argument("--arch", choices=sorted(TARGETS), default="amd64")
    parser.add_argument("--json", help="write the outcomes here")
    parser.add_argument("--corpus", default=str(CORPUS), help="a corpus file of the same form")
    args = parser.parse_args()
    cases = tomllib.loads(Path(args.corpus).read_text())["case"]
    if args.cases:
        wanted = set(args.cases.split(","))
        cases = [case for case in cases if case["name"] in wanted]
    if args.kind:
        cases = [case for case in cases if case["kind"] == args.kind]
    root = Path(args.root) / time.strftime("%Y%m%d-%H%M%S")
    started = time.monotonic()

    def run(case: dict[str, Any]) -> Outcome:
        outcome = run_case(case, root, args.compare, args.arch)
        # One line per case as it ends, so a long run shows where it stands.
        print(
            f"[{(time.monotonic() - started) / 60:5.1f} min] {outcome.name}: {outcome.status}"
            f" {outcome.reason} rounds={outcome.rounds} {outcome.seconds:.0f} s"
            f" ({'as expected' if outcome.ok else 'NOT as expected'})",
            flush=True,
        )
        return outcome

    with ThreadPoolExecutor(args.parallel) as pool:
        outcomes = list(pool.map(run, cases))
    _report(outcomes, time.monotonic() - started)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(o) for o in outcomes], indent=2))


def _report(outcomes: list[Outcome], elapsed: float) -> None:
    print(f"{'case':28} {'kind':8} {'status':22} ok  rnd {'by':9} {'s':>6} {'up':>6}  packages")
    for o in outcomes:
        up = f"{o.upfront_seconds:6.0f}" if o.upfront_seconds is not None else "     -"
        status = o.status + (f"/{o.reason}" if o.status != "built" and o.reason else "")
        print(
            f"{o.name + '==' + o.version:28} {o.kind:8} {status[:22]:22} "
            f"{'yes' if o.ok else 'NO ':3} {o.rounds:3} {o.fixed_by:9} {o.seconds:6.0f} {up}  "
            f"{' '.join(o.packages)}"
        )
        if not o.ok:
            print(f"{'':28} -> {o.error}")
    for kind in ("repair", "control", "negative"):
        group = [o for o in outcomes if o.kind == kind]
        if group:
            good = sum(o.ok for o in group)
            print(f"{kind}: {good}/{len(group)} as expected ({100 * good / len(group):.0f}%)")
    repaired = [o for o in outcomes if o.kind == "repair" and o.ok]
    if repaired:
        by = {
            path: sum(o.fixed_by == path for o in repaired)
            for path in ("catalog", "inference", "both")
        }
        print(f"repaired by: {by}; rounds median {statistics.median(o.rounds for o in repaired)}")
        timed = [o for o in repaired if o.upfront_seconds]
        if timed:
            ratio = statistics.median(o.seconds / (o.upfront_seconds or 1) for o in timed)
            print(f"repair time vs recipes known up front: median {ratio:.2f}x, {len(timed)} cases")
    print(f"bench wall time {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
