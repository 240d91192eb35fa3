#!/usr/bin/env python
"""Claims per second of the build queue service versus a raw SQL ceiling, on Postgres.

For 1, 4 and 16 concurrent claimers (separate processes, separate connections) this
drains 20,000 pending jobs twice: once through ``builds.queue.claim`` (which also
writes a ``leased`` event per job, in the same statement) and once through a bare
psycopg loop of ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)
RETURNING id`` with no ORM and no events. It prints claims/s for both, the ratio,
and the number of jobs claimed more than once (which must be zero). A third column
runs the raw loop with the service's event insert added, to show how much of the gap
is the timeline row rather than Python.

Usage: DATABASE_URL=postgres://root@127.0.0.1:5432/refinery bench/queue_claim.py
       [--jobs 20000] [--claimers 1 4 16] [--batch 1]
It works in its own database (<name>_bench), created and migrated on first use.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RAW_CLAIM = """
UPDATE builds_buildjob
   SET status = 'leased', attempts = attempts + 1, lease_owner = %(worker)s,
       lease_expires_at = now() + interval '5 minutes', heartbeat_at = now(), updated_at = now()
 WHERE id IN (
    SELECT id FROM builds_buildjob
     WHERE status IN ('pending', 'retry') AND next_attempt_at <= now()
     ORDER BY priority DESC, enqueued_at, critical_path_ms DESC, id
     LIMIT %(limit)s
     FOR UPDATE SKIP LOCKED)
RETURNING id
"""

# The same claim plus the timeline row the service writes for every leased job: the share
# of the gap that is the event, not the ORM.
RAW_CLAIM_WITH_EVENT = f"""
WITH claimed AS ({RAW_CLAIM.replace("RETURNING id", "RETURNING id, attempts")})
INSERT INTO builds_buildevent
       (job_id, kind, from_status, to_status, actor, message, data, created_at)
SELECT id, 'transition', 'pending', 'leased', %(worker)s, '',
       jsonb_build_object('attempt', attempts), now()
  FROM claimed
RETURNING job_id
"""


def bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        sys.exit(
            f"error: DATABASE_URL={url!r} is not Postgres; this benchmark measures SKIP LOCKED"
        )
    name = parts.path.lstrip("/") or "refinery"
    return urlunsplit(parts._replace(path=f"/{name}_bench"))


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refinery.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def fill(jobs: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from builds.models import BuildJob
    from plans.models import Target

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE builds_buildevent, builds_buildjob RESTART IDENTITY CASCADE")
    target, _ = Target.objects.get_or_create(
        python_version="3.11", platform_tag="manylinux_2_17_s390x"
    )
    now = timezone.now()
    BuildJob.objects.bulk_create(
        (
            BuildJob(
                name=f"pkg-{i}",
                version="1.0",
                target=target,
                priority=i % 4,
                enqueued_at=now,
                next_attempt_at=now,
            )
            for i in range(jobs)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE builds_buildjob")


def service_claimer(url: str, worker: str, batch: int, barrier: Any, results: Any) -> None:
    setup_django(url)
    from django.db import connection

    from builds import queue

    connection.ensure_connection()
    claimed: list[int] = []
    barrier.wait()
    start = time.time()
    while jobs := queue.claim(worker, max_n=batch):
        claimed.extend(job.pk for job in jobs)
    results.put((worker, start, time.time(), claimed))


def raw_claimer(url: str, worker: str, batch: int, barrier: Any, results: Any) -> None:
    _raw_loop(RAW_CLAIM, url, worker, batch, barrier, results)


def raw_event_claimer(url: str, worker: str, batch: int, barrier: Any, results: Any) -> None:
    _raw_loop(RAW_CLAIM_WITH_EVENT, url, worker, batch, barrier, results)


def _raw_loop(sql: str, url: str, worker: str, batch: int, barrier: Any, results: Any) -> None:
    import psycopg

    conn = psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)
    claimed: list[int] = []
    barrier.wait()
    start = time.time()
    while rows := conn.execute(sql, {"worker": worker, "limit": batch}).fetchall():
        claimed.extend(row[0] for row in rows)
    results.put((worker, start, time.time(), claimed))
    conn.close()


def run(kind: str, url: str, claimers: int, batch: int, jobs: int) -> tuple[float, int, int]:
    fill(jobs)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(claimers)
    results = ctx.Queue()
    target = {"service": service_claimer, "raw": raw_claimer, "raw+event": raw_event_claimer}[kind]
    procs = [
        ctx.Process(target=target, args=(url, f"{kind}-{i}", batch, barrier, results))
        for i in range(claimers)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    start = min(o[1] for o in outcomes)
    end = max(o[2] for o in outcomes)
    counts = Counter(pk for o in outcomes for pk in o[3])
    doubles = sum(1 for n in counts.values() if n > 1)
    return len(counts) / (end - start), doubles, len(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--claimers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--batch", type=int, default=1, help="jobs per claim call")
    args = parser.parse_args()

    url = bench_database_url(
        os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/refinery")
    )
    ensure_database(url)
    setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    print(f"{args.jobs} jobs, batch {args.batch}, Postgres, {os.cpu_count()} cores")
    print(
        f"{'claimers':>8}  {'service/s':>10}  {'raw SQL/s':>10}  {'ratio':>6}  "
        f"{'raw+event/s':>11}  {'double claims (service / raw)':>29}"
    )
    failed = False
    for claimers in args.claimers:
        service, service_doubles, service_n = run("service", url, claimers, args.batch, args.jobs)
        raw, raw_doubles, raw_n = run("raw", url, claimers, args.batch, args.jobs)
        with_event, _, _ = run("raw+event", url, claimers, args.batch, args.jobs)
        complete = service_n == raw_n == args.jobs
        failed |= bool(service_doubles or raw_doubles or not complete)
        print(
            f"{claimers:>8}  {service:>10.0f}  {raw:>10.0f}  {service / raw:>6.2f}  "
            f"{with_event:>11.0f}  {service_doubles:>14} / {raw_doubles:<6}"
            + ("" if complete else f"  (claimed {service_n} / {raw_n} of {args.jobs}!)")
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
