"""Checks of what the refinery needs: `manage.py doctor` prints them all with their fixes,
`/api/ready` answers with the ones a serving instance depends on."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from urllib.parse import urlsplit, urlunsplit

import redis
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from builds.activity import stranded_jobs
from builds.images import (
    DEBIAN_TO_MACHINE,
    MACHINE_TO_DEBIAN,
    binfmt_ready,
    host_debian_arch,
    image_exists,
    podman_env,
)
from builds.models import BuilderImage
from builds.repairs import index_path
from inputs.target_env import platform_arch
from plans.models import Target

Check = tuple[str, bool, str]  # (what, ok, detail or the command that fixes it)


def podman() -> Check:
    if shutil.which(settings.PODMAN_BIN) is None:
        return ("podman", False, "apt-get install podman runc")
    env = podman_env()
    try:
        info = subprocess.run(
            [settings.PODMAN_BIN, "info", "--format", "{{.Host.OCIRuntime.Name}}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return ("podman", False, "podman info did not answer within 20 s")
    if info.returncode != 0:
        return ("podman", False, f"podman info failed: {info.stderr.strip()[-120:]}")
    return (
        "podman",
        True,
        f"runtime {info.stdout.strip()} (CONTAINERS_CONF={settings.PODMAN_CONTAINERS_CONF})",
    )


def builder_images() -> list[Check]:
    checks = []
    arches = {DEBIAN_TO_MACHINE.get(host_debian_arch(), host_debian_arch())}
    arches |= {platform_arch(t.platform_tag) for t in Target.objects.all()}
    machine_to_debian = {machine: debian for debian, machine in DEBIAN_TO_MACHINE.items()}
    for machine in sorted(arches):
        arch = machine_to_debian.get(machine, machine)
        record = BuilderImage.objects.filter(preset=settings.CONTAINER_PRESET, arch=arch).first()
        fix = f"python manage.py build_image --preset {settings.CONTAINER_PRESET} --arch {arch}"
        if record is None or not image_exists(record.image):
            checks.append((f"builder image {arch}", False, fix))
        else:
            checks.append((f"builder image {arch}", True, record.image))
        index = index_path(settings.CONTAINER_PRESET, arch)
        fix_index = (
            f"python manage.py contents_index --preset {settings.CONTAINER_PRESET} --arch {arch}"
        )
        checks.append(
            (f"contents index {arch}", True, str(index))
            if index.exists()
            else (f"contents index {arch}", False, f"{fix_index} (repairs find packages with it)")
        )
        if arch != host_debian_arch():
            fix_binfmt = (
                "apt-get install qemu-user-static binfmt-support && "
                f"update-binfmts --enable qemu-{machine}"
            )
            ok = binfmt_ready(arch)
            checks.append((f"binfmt qemu-{machine}", ok, "emulation ready" if ok else fix_binfmt))
    return checks


def stranded_builds() -> list[Check]:
    """Waiting jobs no worker here can build (no image, no remote worker of late)."""
    stranded = stranded_jobs()
    if not stranded:
        return [("waiting builds", True, "each has a worker that can build it")]
    return [
        (
            f"builds waiting for {arch}",
            False,
            f"{count} job(s) wait for {arch}, which nothing here builds: python manage.py "
            f"build_image --arch {MACHINE_TO_DEBIAN.get(arch, arch)}, or start a remote "
            f"worker on {arch}",
        )
        for arch, count in sorted(stranded.items())
    ]


def storage() -> Check:
    probe = f"health/{uuid.uuid4().hex}"
    try:
        saved = default_storage.save(probe, ContentFile(b"ok"))
        default_storage.delete(saved)
    except Exception as exc:  # any storage backend error is the finding
        return ("storage", False, f"cannot write: {exc}")
    return ("storage", True, settings.STORAGES["default"]["BACKEND"].rsplit(".", 1)[-1])


def database() -> Check:
    try:
        connection.ensure_connection()
    except Exception as exc:  # the finding
        return ("database", False, str(exc).splitlines()[0])
    return ("database", True, connection.vendor)


def redis_broker() -> Check:
    if not settings.REDIS_URL:
        return ("redis", True, "not configured (ORM broker, in-process channel layer)")

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3).ping()
    except Exception as exc:  # the finding
        return ("redis", False, f"{without_password(settings.REDIS_URL)}: {exc}")
    return ("redis", True, without_password(settings.REDIS_URL))


def without_password(url: str) -> str:
    """A URL fit to show: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def readiness() -> list[Check]:
    """What a serving instance needs: the database, the broker, storage, and podman when
    builds run here in containers."""
    checks = [database(), redis_broker(), storage()]
    if settings.RUNNER == "podman":
        checks.append(podman())
    return checks
