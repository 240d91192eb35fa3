"""What the podman runner asks of podman: the build step gets no capability, a read-only root,
limits and one writable host folder; the system-package step gets the package manager's
capabilities and nothing of the sdist. (The containers' behaviour under attack is
test_build_sandbox_limits.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from builds.runners.podman import PodmanRunner, folder_size
from builds.runners.sandbox import SandboxLimits, size_in_bytes
from tests.factories import BuildSpecFactory

SPEC = BuildSpecFactory(
    recipes=[{"type": "system_packages", "packages": ["libyaml-dev", "libffi-dev"]}]
)
RESOLVED = ("localhost/refinery-builder:debian-bookworm-amd64", "amd64", None)


def _runner() -> PodmanRunner:
    limits = SandboxLimits(memory="2g", cpus="1", pids=128, disk="1g")
    return PodmanRunner(timeout=60, ca_bundle="/etc/ssl/certs/ca-certificates.crt", limits=limits)


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_the_build_step_has_no_capabilities_a_read_only_root_and_limits(tmp_path):
    argv = _runner().command(SPEC, tmp_path / "out", "c1", RESOLVED)

    assert _pairs(argv, "--cap-drop") == ["all"]
    assert "--cap-add" not in argv
    assert _pairs(argv, "--security-opt") == ["no-new-privileges"]
    assert "--read-only" in argv
    assert "--read-only-tmpfs=false" in argv
    assert _pairs(argv, "--tmpfs") == ["/tmp:rw,exec,nosuid,nodev,mode=1777,size=1g"]
    assert _pairs(argv, "--memory") == ["2g"]
    assert _pairs(argv, "--memory-swap") == ["2g"]
    assert _pairs(argv, "--pids-limit") == ["128"]
    assert _pairs(argv, "--cpus") == ["1"]
    assert "--privileged" not in argv


def test_the_only_writable_host_folder_of_a_build_is_its_output(tmp_path):
    argv = _runner().command(SPEC, tmp_path / "out", "c1", RESOLVED)

    mounts = _pairs(argv, "-v")
    writable = [m for m in mounts if not m.endswith(":ro")]
    assert writable == [f"{tmp_path / 'out'}:/output"]
    environment = dict(item.split("=", 1) for item in _pairs(argv, "-e"))
    assert environment["PIP_CACHE_DIR"].startswith("/tmp/")
    assert environment["HOME"].startswith("/tmp/")


def test_a_build_on_a_system_package_image_is_told_they_are_there(tmp_path):
    argv = _runner().command(
        SPEC, tmp_path / "out", "c1", RESOLVED, system_image="localhost/refinery-deps:abc"
    )

    assert "SYSTEM_PACKAGES_READY=1" in _pairs(argv, "-e")
    assert argv[argv.index("localhost/refinery-deps:abc") + 1 :] == [
        "python3",
        "/usr/local/bin/refinery-build",
    ]
    assert _pairs(argv, "--cap-drop") == ["all"]


def test_the_system_package_step_gets_the_package_managers_capabilities_and_no_sdist():
    argv = _runner().system_packages_command(SPEC, "c1-deps", RESOLVED)

    assert _pairs(argv, "--cap-drop") == ["all"]
    assert _pairs(argv, "--cap-add") == ["CHOWN,DAC_OVERRIDE,FOWNER,FSETID,SETUID,SETGID"]
    assert _pairs(argv, "--security-opt") == ["no-new-privileges"]
    assert "--rm" not in argv  # kept as the image, then removed
    environment = " ".join(_pairs(argv, "-e"))
    assert "SDIST_URL" not in environment
    assert "JOB_NAME" not in environment
    assert argv[-4:] == [
        "/usr/local/bin/refinery-build",
        "--system-packages",
        "libffi-dev",
        "libyaml-dev",
    ]


def test_sizes_read_as_podman_reads_them():
    assert size_in_bytes("8g") == 8 * 1024**3
    assert size_in_bytes("512m") == 512 * 1024**2
    assert size_in_bytes("100") == 100
    with pytest.raises(ValueError, match="not a size"):
        size_in_bytes("lots")


def test_the_output_watch_counts_every_file_below_the_folder(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.bin").write_bytes(b"x" * 1000)
    (tmp_path / "y.whl").write_bytes(b"y" * 24)

    assert folder_size(tmp_path) == 1024
    assert folder_size(tmp_path / "missing") == 0
