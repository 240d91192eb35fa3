"""A root filesystem debootstrap left something mounted in is emptied of its mounts before
it is packed into an image or removed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from builds.images import unmount_below

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


def _mounted(path: Path) -> bool:
    return os.path.ismount(path)


def test_everything_mounted_inside_the_tree_is_unmounted_deepest_first(tmp_path):
    rootfs = tmp_path / "rootfs with space"
    proc = rootfs / "proc"
    nested = proc / "inner"
    proc.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(proc)], check=True)
    nested.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(nested)], check=True)
    (nested / "host-file").write_text("not ours")
    said: list[str] = []
    try:
        unmount_below(rootfs, said.append)
    finally:
        for point in (nested, proc):
            if _mounted(point):
                subprocess.run(["umount", "--lazy", str(point)], check=False)

    assert not _mounted(nested)
    assert not _mounted(proc)
    assert said == [f"$ umount {nested.resolve()}", f"$ umount {proc.resolve()}"]
    assert list(proc.iterdir()) == []


def test_a_tree_with_nothing_mounted_is_left_as_it_is(tmp_path):
    (tmp_path / "etc").mkdir()
    said: list[str] = []

    unmount_below(tmp_path, said.append)

    assert said == []
    assert (tmp_path / "etc").is_dir()
