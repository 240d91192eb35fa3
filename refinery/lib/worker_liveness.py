"""Which local workers are gone: a lease owner of this host (``q2:<host>:<pid>`` and the
like, as the cluster, ``drain``, ``refine`` and ``run_worker`` name themselves) whose
process no longer exists. Remote workers (``<token>/<id>``) and other hosts are never
judged here: their leases run out instead."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from refinery.lib.worker_ids import this_host

_LOCAL = re.compile(r"(?:q2|drain|refine):(?P<host>[^:/]+):(?P<pid>\d{1,9})")


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def dead_local_workers(owners: Iterable[str], *, host: str | None = None) -> set[str]:
    """The owners among ``owners`` that are workers of this host with no process left.
    A recycled pid reads as alive: that errs on the side of waiting for the lease."""
    host = host or this_host()
    dead = set()
    for owner in owners:
        match = _LOCAL.fullmatch(owner)
        if match and match["host"] == host and not process_exists(int(match["pid"])):
            dead.add(owner)
    return dead
