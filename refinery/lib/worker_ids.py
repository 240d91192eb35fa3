"""How a local worker names itself: ``<kind>:<host>:<pid>``, where host is the host name and
the start of the kernel's boot id, so two machines (or two boots) that share a host name
are never taken for one another when a lease's owner is judged alive or gone."""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@functools.cache
def this_host() -> str:
    try:
        boot = _BOOT_ID.read_text().strip().replace("-", "")[:8]
    except OSError:
        boot = ""
    name = socket.gethostname().replace(":", "-").replace("/", "-")
    return f"{name}.{boot}" if boot else name


def local_worker_id(kind: str) -> str:
    return f"{kind}:{this_host()}:{os.getpid()}"
