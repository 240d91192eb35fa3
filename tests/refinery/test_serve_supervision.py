"""``manage.py serve`` keeps serving when its task cluster dies: the web server (and with it
``/simple/``) stays up, and the cluster is started again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def cluster_pids(serve_pid: int) -> set[int]:
    children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split()
    found = set()
    for pid in map(int, children):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"qcluster" in cmdline:
            found.add(pid)
    return found


def test_a_killed_cluster_is_restarted_while_the_web_server_keeps_serving(start_refinery):
    base = start_refinery(cluster=True)
    serve = start_refinery.servers[0]
    (first,) = cluster_pids(serve.pid)

    os.kill(first, signal.SIGKILL)

    deadline = time.monotonic() + 30
    restarted: set[int] = set()
    while time.monotonic() < deadline and not restarted:
        assert httpx.get(f"{base}/api/health", timeout=5).status_code == 200
        restarted = cluster_pids(serve.pid) - {first}
        time.sleep(0.3)
    assert restarted, "the cluster was not started again"
    assert serve.poll() is None
    assert httpx.get(f"{base}/simple/", timeout=5).status_code in (200, 404)
