#!/usr/bin/env python
"""Live log latency: lines a worker writes -> lines a browser's websocket receives.

For each transport a fresh refinery serves (``manage.py serve``, as ``make run``), a worker
thread writes build log lines through the worker's own log sink at ``--rate`` lines a second
for ``--seconds``, each line carrying its write time, and a real Chromium, logged in as
staff, follows ``/ws/builds/<job>/log/`` and notes each line's arrival. Printed: lines sent,
received, lost (a gap in ``seq``) or repeated, and latency p50 / p95 / max, beside the goal
(p95 250 ms with Redis, 500 ms on the embedded default).

- embedded: SQLite, no Redis: the consumer reads new rows itself (what ``make run`` gives);
- redis: Postgres and channels-redis: the worker's lines are pushed through Redis.

Usage: bench/live_logs.py [--seconds 60] [--rate 2000] [--transport embedded|redis]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GOALS_MS = {"redis": 250.0, "embedded": 500.0}
REDIS_URL = "redis://127.0.0.1:6379/6"
POSTGRES = "postgres://root@127.0.0.1:5432"
BENCH_DB = "refinery_bench_live_logs"
PASSWORD = "bench-live-logs"

COLLECT = """
([job, total]) => { window.benchResult = new Promise((resolve) => {
  const latencies = new Float64Array(total + 1000);
  let received = 0, expected = 0, gaps = 0, repeats = 0, status = null;
  const others = [];  // lines the bench did not write
  const socket = new WebSocket(`ws://${location.host}/ws/builds/${job}/log/`);
  socket.onmessage = (event) => {
    const now = Date.now();
    const message = JSON.parse(event.data);
    if (message.type === "finished") { status = message.status; socket.close(); return; }
    if (message.seq > expected) gaps += message.seq - expected;
    if (message.seq < expected) repeats += expected - message.seq;
    expected = message.seq + message.lines.length;
    for (const line of message.lines) {
      const at = line.lastIndexOf(" t=");
      if (!line.startsWith("bench line ") || at < 0) { others.push(line); continue; }
      if (received < latencies.length) latencies[received] = now - Number(line.slice(at + 3));
      received += 1;
    }
  };
  socket.onclose = () => resolve({
    latencies: Array.from(latencies.subarray(0, Math.min(received, latencies.length))),
    received, gaps, repeats, status, others: others.slice(0, 20), other_count: others.length,
  });
}); }
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(transport: str, scratch: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "VAR_DIR": str(scratch / "var"),
        "STORAGE_ROOT": str(scratch / "storage"),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "refinery.settings",
        "AUTO_PLAN": "false",
        "AUTO_BUILD": "false",
    }
    if transport == "redis":
        env["DATABASE_URL"] = f"{POSTGRES}/{BENCH_DB}"
        env["REDIS_URL"] = REDIS_URL
    else:
        env["DATABASE_URL"] = f"sqlite:///{scratch / 'refinery.sqlite3'}"
        env["REDIS_URL"] = ""
    return env


def _fresh_postgres() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {BENCH_DB}")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * (len(ordered) - 1)))]


def run_one(transport: str, seconds: float, rate: int) -> dict[str, Any]:
    """One transport, in this process (Django is set up for it here)."""
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-live-{transport}-"))
    env = _environment(transport, scratch)
    os.environ.update(env)
    if transport == "redis":
        _fresh_postgres()
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from builds import queue as build_queue
    from builds.log_sink import DatabaseLogSink
    from builds.models import BuildJob
    from plans.models import Target

    call_command("migrate", "--no-input", verbosity=0)
    User.objects.create_superuser("bench", "bench@example.com", PASSWORD)
    now = timezone.now()
    job = BuildJob.objects.create(
        name="bench-package",
        version="1.0",
        target=Target.objects.create(python_version="3.11", platform_tag="manylinux_2_17_x86_64"),
        status=BuildJob.Status.BUILDING,
        attempts=1,
        lease_owner="bench-worker",
        lease_expires_at=now + timedelta(hours=1),
        enqueued_at=now,
        next_attempt_at=now,
        started_at=now,
    )
    connection.close()

    port = _free_port()
    server = subprocess.Popen(
        [PYTHON, "manage.py", "serve", "--no-cluster", "--port", str(port)], cwd=ROOT, env=env
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base)
        total = int(seconds * rate)
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # playwright's loop in this thread
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-dev-shm-usage"],
            )
            page = browser.new_page(base_url=base)
            page.goto("/admin/login/?next=/")
            page.fill("#id_username", "bench")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{base}/")
            page.evaluate(COLLECT, [job.pk, total])
            time.sleep(1.0)  # the socket is open and caught up (nothing written yet)

            def write() -> None:
                sink = DatabaseLogSink(job.pk, 1)
                started = time.monotonic()
                for number in range(total):
                    due = started + number / rate
                    pause = due - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    sink.write(f"bench line {number} t={time.time() * 1000:.1f}")
                sink.close()
                build_queue.complete(job.pk, "bench-worker", message="bench done")
                connection.close()

            writer = threading.Thread(target=write)
            began = time.monotonic()
            writer.start()
            writer.join()
            wrote_for = time.monotonic() - began
            result = page.evaluate("() => window.benchResult")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(scratch, ignore_errors=True)
    latencies = [float(x) for x in result["latencies"]]
    return {
        "transport": transport,
        "sent": total,
        "seconds": round(wrote_for, 1),
        "received": result["received"],
        # Lines of the job's log the bench did not write (shown, not counted as received).
        "other_lines": result["others"],
        "lost": result["gaps"] + max(0, total - result["received"] - result["gaps"]),
        "repeated": result["repeats"],
        "finished": result["status"],
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(_percentile(latencies, 0.95), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "goal_p95_ms": GOALS_MS[transport],
    }


def _wait_for(base: str) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the refinery at {base} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=2000, help="lines written per second")
    parser.add_argument("--transport", choices=sorted(GOALS_MS), action="append")
    parser.add_argument("--one", choices=sorted(GOALS_MS), help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.one:  # a child: one transport, Django set up for it
        print(json.dumps(run_one(args.one, args.seconds, args.rate)))
        return
    results = []
    for transport in args.transport or ["embedded", "redis"]:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                transport,
                "--seconds",
                str(args.seconds),
                "--rate",
                str(args.rate),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if child.returncode != 0:
            raise SystemExit(f"{transport}: {child.stderr.strip()[-2000:]}")
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    header = [
        "transport",
        "sent",
        "received",
        "lost",
        "repeated",
        "p50 ms",
        "p95 ms",
        "max ms",
        "goal p95",
        "p95/goal",
    ]
    print(" | ".join(header))
    for r in results:
        ratio = r["p95_ms"] / r["goal_p95_ms"] if r["p95_ms"] is not None else float("nan")
        print(
            " | ".join(
                str(v)
                for v in [
                    r["transport"],
                    r["sent"],
                    r["received"],
                    r["lost"],
                    r["repeated"],
                    r["p50_ms"],
                    r["p95_ms"],
                    r["max_ms"],
                    r["goal_p95_ms"],
                    f"{ratio:.2f}",
                ]
            )
        )
    for r in results:
        for line in r["other_lines"]:
            print(f"{r['transport']}: a line the bench did not write: {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
