"""What a build leaves behind when its worker dies without cleaning up: processes still
running (the build runs in a session of its own, so its worker's death does not end it), a
podman container, and scratch folders. Builds carry ``REFINERY_BUILD_JOB=<installation>:<job
id>`` in their environment and both in their container's and folders' names, so what belongs
to a job can be found and stopped before the job is built again.

Job ids are unique within one database only, and refineries on one host share its podman
and its /tmp (a second checkout, ``make test`` beside ``make run``, the repair bench's
refinery per case): the installation part, named after the database, keeps one refinery from
stopping another's build of the same job number."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import connections

from builds.images import podman_env

MARKER = "REFINERY_BUILD_JOB"


@functools.cache
def installation() -> str:
    """Six hex digits naming this refinery's database (its engine and name; a SQLite file by
    its real path): the same for every process of one refinery, however its URL is spelt,
    and different for a refinery beside it."""
    database = connections["default"].settings_dict
    name = str(database["NAME"])
    if database["ENGINE"].endswith("sqlite3"):
        name = os.path.realpath(name)
    return hashlib.sha256(f"{database['ENGINE']}\0{name}".encode()).hexdigest()[:6]


def _mark(job_id: int) -> str:
    return f"{installation()}:{job_id}"


def marked(env: dict[str, str], job_id: int) -> dict[str, str]:
    return {**env, MARKER: _mark(job_id)}


def scratch_prefix(job_id: int, name: str) -> str:
    return f"refinery-{installation()}-{job_id}-{name}-"


def output_prefix(job_id: int) -> str:
    return f"refinery-out-{installation()}-{job_id}-"


def container_prefix(job_id: int) -> str:
    return f"refinery-job-{installation()}-{job_id}-"


def stop_leftovers(job_id: int) -> str:
    """Kill the job's processes, remove its containers and scratch folders; what was done,
    in a few words (empty when nothing was left)."""
    done = []
    processes = _kill_marked(job_id)
    if processes:
        done.append(f"{processes} process(es) killed")
    containers = _remove_containers(job_id)
    if containers:
        done.append(f"container {', '.join(containers)} removed")
    folders = remove_folders([job_id])
    if folders:
        done.append(f"{folders} scratch folder(s) removed")
    return "; ".join(done)


def _kill_marked(job_id: int) -> int:
    wanted = f"{MARKER}={_mark(job_id)}".encode()
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or another user's
            continue
        if wanted in environ.split(b"\0"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    return killed


def _remove_containers(job_id: int) -> list[str]:
    podman = shutil.which(settings.PODMAN_BIN)
    if podman is None:
        return []
    env = podman_env()
    listed = subprocess.run(
        [
            podman,
            "ps",
            "-a",
            "--filter",
            f"name=^{container_prefix(job_id)}",
            "--format",
            "{{.Names}}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    pattern = re.compile(re.escape(container_prefix(job_id)) + r"[0-9a-f]{8}")
    names = [n for n in listed.stdout.split() if pattern.fullmatch(n)]
    if names:
        subprocess.run(
            [podman, "rm", "-f", "-t", "0", *names], env=env, capture_output=True, timeout=120
        )
    return names


def remove_folders(job_ids: Iterable[int]) -> int:
    """Remove these jobs' scratch folders on this host, looking through the temporary
    directory once for all of them; how many there were."""
    prefixes = tuple(
        prefix
        for job_id in job_ids
        for prefix in (output_prefix(job_id), f"refinery-{installation()}-{job_id}-")
    )
    if not prefixes:
        return 0
    found = [
        entry for entry in Path(tempfile.gettempdir()).iterdir() if entry.name.startswith(prefixes)
    ]
    for folder in found:
        shutil.rmtree(folder, ignore_errors=True)
    return len(found)
