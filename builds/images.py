"""Builder images, made offline: debootstrap a Debian root filesystem, ``podman import`` it.

No registry is needed (our machines reach none). A foreign architecture (s390x on an
amd64 host) is bootstrapped in two stages under qemu-user-static through binfmt_misc.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from builds.models import BuilderImage

PRESETS = {
    "debian-bookworm": {
        "suite": "bookworm",
        "mirror": "http://deb.debian.org/debian",
        "include": "python3,python3-venv,python3-pip,build-essential,python3-dev",
    }
}
# Debian architecture names and the machine names wheel platform tags use.
DEBIAN_TO_MACHINE = {"amd64": "x86_64", "arm64": "aarch64", "s390x": "s390x", "ppc64el": "ppc64le"}
MACHINE_TO_DEBIAN = {machine: debian for debian, machine in DEBIAN_TO_MACHINE.items()}


class ImageError(Exception):
    """Why an image cannot be made, with the command that fixes it when there is one."""


def host_debian_arch() -> str:
    return MACHINE_TO_DEBIAN.get(platform.machine(), platform.machine())


def podman_env(containers_conf: str | None = None) -> dict[str, str]:
    """The environment every podman call runs with: the refinery's engine settings."""
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    conf = containers_conf or settings.PODMAN_CONTAINERS_CONF
    if conf:
        env["CONTAINERS_CONF"] = conf
    return env


def image_name(preset: str, arch: str) -> str:
    return f"localhost/refinery-builder:{preset}-{arch}"


def binfmt_ready(arch: str) -> bool:
    return Path(f"/proc/sys/fs/binfmt_misc/qemu-{DEBIAN_TO_MACHINE.get(arch, arch)}").exists()


def enable_binfmt(arch: str) -> None:
    """Mount binfmt_misc and enable qemu for ``arch`` (needed again after every boot)."""
    machine = DEBIAN_TO_MACHINE.get(arch, arch)
    if not Path("/proc/sys/fs/binfmt_misc/register").exists():
        subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"], check=False
        )
    if shutil.which("update-binfmts"):
        subprocess.run(
            ["update-binfmts", "--enable", f"qemu-{machine}"], check=False, capture_output=True
        )
    if not binfmt_ready(arch):
        raise ImageError(
            f"qemu-{machine} is not registered with binfmt_misc: apt-get install qemu-user-static "
            f"binfmt-support, then update-binfmts --enable qemu-{machine}"
        )


def _run(argv: list[str], say: Callable[[str], None]) -> None:
    say("$ " + " ".join(argv))
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    tail: list[str] = []
    for line in process.stdout:
        tail = [*tail[-19:], line.rstrip()]
        say(line.rstrip())
    if process.wait() != 0:
        raise ImageError(f"{argv[0]} failed ({process.returncode}): {tail[-1] if tail else ''}")


def build_image(
    preset: str,
    arch: str,
    *,
    workdir: Path,
    say: Callable[[str], None],
    stage: Callable[[str], None] | None = None,
) -> BuilderImage:
    """``say`` gets every line of the tools' output, ``stage`` one line per step."""
    stage = stage or say
    if preset not in PRESETS:
        raise ImageError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    if arch not in DEBIAN_TO_MACHINE:
        raise ImageError(f"unknown architecture {arch!r}; known: {', '.join(DEBIAN_TO_MACHINE)}")
    for tool, package in (("debootstrap", "debootstrap"), (settings.PODMAN_BIN, "podman")):
        if shutil.which(tool) is None:
            raise ImageError(f"{tool} is not installed: apt-get install {package}")
    foreign = arch != host_debian_arch()
    if foreign:
        enable_binfmt(arch)
    spec = PRESETS[preset]
    rootfs = workdir / f"rootfs-{preset}-{arch}"
    if rootfs.exists():
        unmount_below(rootfs, say)
        shutil.rmtree(rootfs)
    workdir.mkdir(parents=True, exist_ok=True)
    first = ["debootstrap", "--variant=minbase", f"--include={spec['include']}"]
    if foreign:
        first += [f"--arch={arch}", "--foreign"]
    stage(f"debootstrap {spec['suite']} for {arch}: fetching and unpacking packages")
    _run([*first, spec["suite"], str(rootfs), spec["mirror"]], say)
    if foreign:
        stage(
            f"second stage under qemu-{DEBIAN_TO_MACHINE[arch]}: configuring packages "
            "(the slow part on a foreign architecture, often 10-15 minutes)"
        )
        _run(["chroot", str(rootfs), "/debootstrap/debootstrap", "--second-stage"], say)
    for downloaded in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        downloaded.unlink()
    name = image_name(preset, arch)
    unmount_below(rootfs, say)
    stage(f"importing the root filesystem into podman as {name}")
    image_id = _import_rootfs(rootfs, name, arch, say)
    shutil.rmtree(rootfs, ignore_errors=True)
    stage("listing the image's packages (what repairs need not install)")
    record, _ = BuilderImage.objects.update_or_create(
        preset=preset,
        arch=arch,
        defaults={"image": name, "image_id": image_id, "packages": image_packages(name, arch)},
    )
    return record


_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match[1], 8))


def unmount_below(rootfs: Path, say: Callable[[str], None]) -> None:
    """Unmount whatever is mounted inside ``rootfs``, deepest first.

    debootstrap mounts /proc (and /sys) in the tree it builds and unmounts them as it exits,
    but can leave one behind (seen: /proc still mounted after a native run): tar would then
    pack the host's processes, and removing the tree would walk into them."""
    inside = str(rootfs.resolve()) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        # The mount point is the second field, its spaces, tabs, newlines and backslashes
        # escaped in octal.
        points = [_OCTAL_ESCAPE.sub(_unescape, line.split()[1]) for line in mounts if line.strip()]
    for point in sorted({p for p in points if p.startswith(inside)}, key=len, reverse=True):
        say(f"$ umount {point}")
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            # Busy: detached now, freed when its last user lets go.
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def _import_rootfs(rootfs: Path, name: str, arch: str, say: Callable[[str], None]) -> str:
    """``tar | podman import`` the root filesystem as image ``name``; its id."""
    say(f"$ tar -C {rootfs} --one-file-system -c . | podman import --arch {arch} - {name}")
    # --one-file-system: nothing mounted inside the tree is packed, whatever is left there.
    tar = subprocess.Popen(
        ["tar", "-C", str(rootfs), "--one-file-system", "-c", "."], stdout=subprocess.PIPE
    )
    imported = subprocess.run(
        [settings.PODMAN_BIN, "import", "--arch", arch, "-", name],
        stdin=tar.stdout,
        capture_output=True,
        text=True,
        env=podman_env(),
    )
    assert tar.stdout is not None
    tar.stdout.close()
    tar.wait()
    if tar.returncode != 0:
        if imported.returncode == 0:  # an image of part of the tree: no image is better
            subprocess.run(
                [settings.PODMAN_BIN, "rmi", "--force", name],
                capture_output=True,
                env=podman_env(),
                check=False,
            )
        raise ImageError(f"packing {rootfs} failed: tar exited with status {tar.returncode}")
    if imported.returncode != 0:
        raise ImageError(f"podman import failed: {imported.stderr.strip()[-300:]}")
    return imported.stdout.strip().splitlines()[-1] if imported.stdout.strip() else ""


def image_packages(image: str, arch: str) -> list[str]:
    """The Debian packages installed in ``image`` (empty when podman cannot say)."""
    argv = [settings.PODMAN_BIN, "run", "--rm", "--network", "none", "--arch", arch, image]
    listed = subprocess.run(
        [*argv, "dpkg-query", "-W", "-f", "${Package}\n"],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return sorted(set(listed.stdout.split())) if listed.returncode == 0 else []


def image_exists(name: str) -> bool:
    return (
        subprocess.run(
            [settings.PODMAN_BIN, "image", "exists", name], env=podman_env(), capture_output=True
        ).returncode
        == 0
    )
