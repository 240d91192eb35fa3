"""Wheels uploaded by operators: checked completely before a byte is stored.

The filename must parse as a wheel with valid tags; the archive must be a sane zip (no path
traversal, no links, within the member count, the unpacked size and the compression ratio
both per member and for the whole archive); its one ``.dist-info`` must match the filename;
``METADATA`` (within its size limit) must name the same project and version, ``WHEEL`` the
same tags; and ``RECORD`` must list every file with the right hash and size (pypa's
``installer`` checks that part, streaming each member, as pip would at install). Only then
does the wheel go into the content-addressed store, and from there into the index. A file
name stands for one content: other bytes under a published name are a conflict.

Nothing is read whole into memory but the small ``.dist-info`` files, after their sizes are
checked; messages name the file and the member, never a server path.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from installer.sources import WheelFile
from packaging.metadata import parse_email
from packaging.tags import parse_tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from builds.artifacts import ArtifactError, FilenameTaken, store_wheel
from builds.index.catalog import IndexTarget, default_target
from builds.models import Artifact, BuildJob
from plans.targets import target_row

_CHUNK = 1 << 20
_TAG_PART = re.compile(r"[a-z0-9_]+")
_RATIO_CHECK_FROM = 1 << 20  # small members may compress absurdly well and still be honest
# The .dist-info files read whole: WHEEL is a few lines, RECORD a line per member.
_WHEEL_FILE_MAX_BYTES = 64 * 1024
_RECORD_MAX_BYTES = 32 * 1024 * 1024


class WheelUploadError(Exception):
    """The upload is refused; the message is the one line the uploader sees."""


class WheelConflict(WheelUploadError):
    """Other bytes are already published under this file name (HTTP 409)."""

    def __init__(self, message: str, published_sha256: str) -> None:
        super().__init__(message)
        self.published_sha256 = published_sha256


@dataclass(frozen=True)
class WheelUploadResult:
    artifact: Artifact
    created: bool

    @property
    def message(self) -> str:
        if self.created:
            return f"stored {self.artifact.filename} (sha256 {self.artifact.sha256})"
        return f"{self.artifact.filename} is already in the store (sha256 {self.artifact.sha256})"


def upload_wheel(
    source: BinaryIO, filename: str, *, target: IndexTarget | None = None, uploader: str = ""
) -> WheelUploadResult:
    """Validate and store one wheel for ``target`` (default: the default target)."""
    filename = _checked_filename(filename)
    index_target = target or default_target()
    with tempfile.TemporaryDirectory(prefix="wheel-upload-", dir=_scratch()) as scratch:
        path = Path(scratch) / filename
        digest = _copy_limited(source, path, filename)
        already = Artifact.objects.filter(sha256=digest).first()
        if already is not None:
            return WheelUploadResult(already, created=False)
        other = Artifact.objects.filter(filename=filename).first()
        if other is not None:
            # As on PyPI, a file name stands for one content: pip and lock files rely on it.
            raise WheelConflict(
                f"{filename}: a different file of that name is already published "
                f"(sha256 {other.sha256})",
                other.sha256,
            )
        name, version = inspect_wheel(path)
        target_model = target_row(index_target.python_version, index_target.platform_tag)
        artifact = _store(
            path,
            target=target_model,
            origin=Artifact.Origin.UPLOADED,
            name=name,
            version=version,
            provenance={"uploaded_by": uploader} if uploader else {},
        )
    return WheelUploadResult(artifact, created=artifact.sha256 == digest)


def _store(path: Path, **fields: Any) -> Artifact:
    """``store_wheel`` with its refusals as upload errors (a taken name is a conflict)."""
    try:
        return store_wheel(path, **fields)
    except FilenameTaken as exc:
        raise WheelConflict(_scrubbed(str(exc), path), exc.published_sha256) from None
    except ArtifactError as exc:
        raise WheelUploadError(_scrubbed(str(exc), path)) from None


def store_built_wheel(
    job: BuildJob, source: BinaryIO, filename: str, provenance: dict[str, Any]
) -> Artifact:
    """A wheel a remote worker built for ``job``: checked as strictly as any upload (it
    crossed the network), then stored as that job's artifact."""
    filename = _checked_filename(filename)
    with tempfile.TemporaryDirectory(prefix="wheel-built-", dir=_scratch()) as scratch:
        path = Path(scratch) / filename
        _copy_limited(source, path, filename)
        inspect_wheel(path)
        return _store(
            path,
            target=job.target,
            origin=Artifact.Origin.BUILT,
            name=job.name,
            version=job.version,
            job=job,
            provenance=provenance,
        )


def _scratch() -> Path:
    directory = Path(settings.VAR_DIR) / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _checked_filename(filename: str) -> str:
    if not filename or "/" in filename or "\\" in filename or "\x00" in filename:
        raise WheelUploadError(f"{filename!r} is not a plain file name")
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename as exc:
        raise WheelUploadError(f"{filename}: not a wheel file name: {exc}") from None
    for tag in tags:
        if not all(_TAG_PART.fullmatch(part) for part in (tag.interpreter, tag.abi, tag.platform)):
            raise WheelUploadError(f"{filename}: not a wheel file name: invalid tag {tag}")
    return filename


def _copy_limited(source: BinaryIO, path: Path, filename: str) -> str:
    """Copy within WHEEL_UPLOAD_MAX_BYTES; returns the sha256."""
    limit = settings.WHEEL_UPLOAD_MAX_BYTES
    written = 0
    digest = hashlib.sha256()
    with path.open("wb") as out:
        while block := source.read(_CHUNK):
            written += len(block)
            if written > limit:
                raise WheelUploadError(
                    f"{filename}: larger than the upload limit of {limit} bytes "
                    "(WHEEL_UPLOAD_MAX_BYTES)"
                )
            digest.update(block)
            out.write(block)
    if written == 0:
        raise WheelUploadError(f"{filename}: the file is empty")
    return digest.hexdigest()


def inspect_wheel(path: Path) -> tuple[str, str]:
    """Every check short of the target's; returns the normalized name and the version."""
    try:
        return _inspect(path)
    except WheelUploadError as exc:
        raise WheelUploadError(_scrubbed(str(exc), path)) from None


def _scrubbed(message: str, path: Path) -> str:
    """Messages name the file, never where the server keeps it while checking it."""
    return message.replace(str(path), path.name).replace(str(path.parent) + "/", "")


def _inspect(path: Path) -> tuple[str, str]:
    filename = path.name
    name, version, _, tags = parse_wheel_filename(filename)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WheelUploadError(f"{filename}: not a zip archive: {exc}") from None
    with archive:
        _check_members(archive, filename, path.stat().st_size)
        wheel = WheelFile(archive)
        try:
            dist_info = wheel.dist_info_dir
        except Exception as exc:  # installer's bad-dist-info error is not exported
            raise WheelUploadError(f"{filename}: {exc}") from None
        _check_dist_info_sizes(archive, dist_info, filename)
        try:
            wheel.validate_record(validate_contents=True)
        except WheelFile.validation_error as exc:
            raise WheelUploadError(f"{filename}: {_first_issue(exc)}") from None
        except Exception as exc:
            raise WheelUploadError(f"{filename}: {exc}") from None
        metadata = _read_text(archive, f"{dist_info}/METADATA", filename)
        wheel_info = _read_text(archive, f"{dist_info}/WHEEL", filename)
    raw, _ = parse_email(metadata)
    if canonicalize_name(raw.get("name", "")) != name:
        raise WheelUploadError(f"{filename}: METADATA names {raw.get('name')!r}, not {name}")
    try:
        metadata_version = Version(raw.get("version", ""))
    except InvalidVersion:
        raise WheelUploadError(
            f"{filename}: METADATA version {raw.get('version')!r} is invalid"
        ) from None
    if metadata_version != version:
        raise WheelUploadError(
            f"{filename}: METADATA says version {metadata_version}, not {version}"
        )
    _check_wheel_file(wheel_info, tags, filename)
    return name, str(version)


def _check_members(archive: zipfile.ZipFile, filename: str, archive_size: int) -> None:
    members = archive.infolist()
    if len(members) > settings.WHEEL_MAX_MEMBERS:
        raise WheelUploadError(
            f"{filename}: {len(members)} members, over the limit of "
            f"{settings.WHEEL_MAX_MEMBERS} (WHEEL_MAX_MEMBERS)"
        )
    seen: set[str] = set()
    unpacked = 0
    for info in members:
        member = info.filename
        parts = member.split("/")
        if (
            member.startswith("/")
            or "\\" in member
            or "\x00" in member
            or ":" in parts[0]
            or ".." in parts
            or posixpath.normpath(member).startswith("..")
        ):
            raise WheelUploadError(f"{filename}: unsafe path in archive: {member!r}")
        if member in seen:
            raise WheelUploadError(f"{filename}: {member!r} appears twice in the archive")
        seen.add(member)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise WheelUploadError(f"{filename}: {member!r} is a symbolic link")
        unpacked += info.file_size
        if unpacked > settings.WHEEL_MAX_UNPACKED_BYTES:
            raise WheelUploadError(
                f"{filename}: unpacks to more than {settings.WHEEL_MAX_UNPACKED_BYTES} bytes "
                "(WHEEL_MAX_UNPACKED_BYTES)"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= _RATIO_CHECK_FROM and ratio > settings.WHEEL_MAX_COMPRESSION_RATIO:
            raise WheelUploadError(
                f"{filename}: {member!r} expands {ratio:.0f}x, beyond the limit of "
                f"{settings.WHEEL_MAX_COMPRESSION_RATIO}x (WHEEL_MAX_COMPRESSION_RATIO)"
            )
    # Many small members each under the per-member check still add up to a bomb.
    overall = unpacked / max(archive_size, 1)
    if unpacked >= _RATIO_CHECK_FROM and overall > settings.WHEEL_MAX_COMPRESSION_RATIO:
        raise WheelUploadError(
            f"{filename}: {archive_size} bytes unpack to {unpacked} ({overall:.0f}x), beyond "
            f"the limit of {settings.WHEEL_MAX_COMPRESSION_RATIO}x (WHEEL_MAX_COMPRESSION_RATIO)"
        )


def _check_dist_info_sizes(archive: zipfile.ZipFile, dist_info: str, filename: str) -> None:
    """The .dist-info files are read whole (METADATA is stored in the database too):
    their sizes are checked first."""
    limits = {
        "METADATA": (settings.WHEEL_MAX_METADATA_BYTES, " (WHEEL_MAX_METADATA_BYTES)"),
        "WHEEL": (_WHEEL_FILE_MAX_BYTES, ""),
        "RECORD": (_RECORD_MAX_BYTES, ""),
    }
    for member, (limit, setting) in limits.items():
        try:
            size = archive.getinfo(f"{dist_info}/{member}").file_size
        except KeyError:
            raise WheelUploadError(f"{filename}: {dist_info}/{member} is missing") from None
        if size > limit:
            raise WheelUploadError(
                f"{filename}: {dist_info}/{member} is {size} bytes, over the limit of "
                f"{limit}{setting}"
            )


def _read_text(archive: zipfile.ZipFile, member: str, filename: str) -> str:
    try:
        return archive.read(member).decode("utf-8")
    except KeyError:
        raise WheelUploadError(f"{filename}: {member} is missing") from None
    except UnicodeDecodeError:
        raise WheelUploadError(f"{filename}: {member} is not UTF-8") from None


def _check_wheel_file(text: str, tags: frozenset[object], filename: str) -> None:
    fields = HeaderParser().parsestr(text)
    wheel_version = (fields.get("Wheel-Version") or "").strip()
    if not wheel_version.startswith("1."):
        raise WheelUploadError(f"{filename}: WHEEL has Wheel-Version {wheel_version!r}, not 1.x")
    try:
        declared = {tag for line in fields.get_all("Tag") or [] for tag in parse_tag(line.strip())}
    except ValueError as exc:
        raise WheelUploadError(f"{filename}: WHEEL has an invalid Tag: {exc}") from None
    if declared != set(tags):
        listed = ", ".join(sorted(str(t) for t in declared)) or "none"
        raise WheelUploadError(f"{filename}: WHEEL lists tags {listed}, the file name others")


def _first_issue(error: Exception) -> str:
    issues = getattr(error, "issues", None)
    text = str(issues[0]) if issues else str(error)
    # installer prefixes each issue with the archive's temporary path; the name is enough.
    return text.split(", ", 1)[1] if text.startswith("In ") and ", " in text else text
