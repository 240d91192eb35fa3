"""The podman build sandbox: what a build container may use and do.

A build runs an sdist's own code, as root inside its container (rootful podman makes that
the host's root user, held in by the container alone). So every build container gets:
no capabilities at all, ``no-new-privileges`` (a setuid program cannot hand them back), a
read-only root (the image cannot be changed; scratch is a size-limited tmpfs at /tmp),
memory (without swap), CPU and process-count limits, and the network policy. The one
step that needs more is installing a recipe's system packages: it runs before the build,
in a container of its own with only the capabilities a package manager uses, and never
runs code from the sdist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What apt and dpkg need as root: to own and chmod the files they unpack, to read and write
# root's files regardless of mode, and to drop to the _apt user for downloads.
PACKAGE_MANAGER_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETUID", "SETGID")

# Where a build writes: its work folder, its venv, pip's isolated build environments, HOME.
SCRATCH = "/tmp"

_SIZE = re.compile(r"(\d+)([kmg]?)", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def size_in_bytes(size: str) -> int:
    """'4g' -> 4294967296 (the podman and settings notation)."""
    match = _SIZE.fullmatch(size.strip())
    if match is None:
        raise ValueError(f"{size!r} is not a size such as 4g or 512m")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


@dataclass(frozen=True)
class SandboxLimits:
    memory: str = "8g"
    cpus: str = "2"
    pids: int = 4096
    # The scratch tmpfs, and what a build may write into its output folder. The tmpfs is
    # memory: what a build keeps there counts toward ``memory`` as well.
    disk: str = "8g"
    network: str = "slirp4netns:allow_host_loopback=false"
    read_only_root: bool = True

    @property
    def disk_bytes(self) -> int:
        return size_in_bytes(self.disk)

    def resource_args(self) -> list[str]:
        return [
            "--memory",
            self.memory,
            "--memory-swap",
            self.memory,  # equal: no swap beyond the limit
            "--cpus",
            self.cpus,
            "--pids-limit",
            str(self.pids),
            "--network",
            self.network,
        ]

    def build_args(self) -> list[str]:
        """A build step: nothing beyond the limits, nothing to change."""
        args = [
            *self.resource_args(),
            "--cap-drop",
            "all",
            "--security-opt",
            "no-new-privileges",
        ]
        if self.read_only_root:
            # /tmp only: --read-only-tmpfs would add /run and /var/tmp with no size limit.
            args += ["--read-only", "--read-only-tmpfs=false"]
        return [
            *args,
            "--tmpfs",
            f"{SCRATCH}:rw,exec,nosuid,nodev,mode=1777,size={self.disk}",
        ]

    def package_step_args(self) -> list[str]:
        """The system-package step: a package manager's capabilities, a writable root."""
        return [
            *self.resource_args(),
            "--cap-drop",
            "all",
            "--cap-add",
            ",".join(PACKAGE_MANAGER_CAPABILITIES),
            "--security-opt",
            "no-new-privileges",
        ]
