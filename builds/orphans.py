"""What a build leaves behind when its worker dies without cleaning up: processes still
running (the build runs in a session of its own, so its worker's death does not end it), a
podman container, and scratch folders. Builds carry ``REFINERY_BUILD_JOB=<job id>`` in
their environment and the job id in their container's and folders' names, so what belongs to
a job can be found and stopped before the job is built again."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

from builds.images import podman_env

MARKER = "REFINERY_BUILD_JOB"


def marked(env: dict[str, str], job_id: int) -> dict[str, str]:
    return {**env, MARKER: str(job_id)}


def scratch_prefix(job_id: int, name: str) -> str:
    return f"refinery-{job_id}-{name}-"


def output_prefix(job_id: int) -> str:
    return f"refinery-out-{job_id}-"


def container_prefix(job_id: int) -> str:
    return f"refinery-job-{job_id}-"


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
    folders = _remove_folders(job_id)
    if folders:
        done.append(f"{folders} scratch folder(s) removed")
    return "; ".join(done)


def _kill_marked(job_id: int) -> int:
    wanted = f"{MARKER}={job_id}".encode()
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


def _remove_folders(job_id: int) -> int:
    root = Path(tempfile.gettempdir())
    found = [*root.glob(f"{output_prefix(job_id)}*"), *root.glob(f"refinery-{job_id}-*")]
    for folder in found:
        shutil.rmtree(folder, ignore_errors=True)
    return len(found)
