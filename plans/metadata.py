"""What a distribution needs: runtime dependencies from core metadata, build requirements
from the sdist's ``pyproject.toml``.

Dependencies come from the first of: a wheel's metadata (PEP 658 or read from the wheel;
any wheel of the version will do, as uv assumes too, since a version's wheels share
their dependency list and express platform differences with markers), the sdist's
``PKG-INFO`` when it is Metadata 2.2+ and does not mark ``Requires-Dist`` dynamic, and
as a last resort PEP 517 ``prepare_metadata_for_build_wheel`` (slow; cached by the sdist's
sha256).
"""

from __future__ import annotations

import email.message
import io
import json
import logging
import re
import tarfile
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from plans.gzip_stream import ForwardGzipReader
from plans.index_client import DistFile, IndexClient, atomic_write
from plans.tar_scan import TarScanError, top_level_files

logger = logging.getLogger(__name__)

# pip's build requirements for a project that does not declare any (PEP 517 legacy path).
LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0",)
_MAX_MEMBER = 4 * 1024 * 1024
# Far beyond any real sdist (scipy's, among the largest, unpacks to 255 MB): a gzip bomb
# stops here instead of keeping the planner inflating for minutes.
MAX_UNPACKED = 2 << 30
_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")


class MetadataError(Exception):
    pass


@dataclass(frozen=True)
class CoreMetadata:
    requires_dist: tuple[Requirement, ...]
    requires_python: str | None
    origin: str


@dataclass(frozen=True)
class SdistInfo:
    pkg_info: bytes | None
    pyproject: dict[str, object] | None


def _headers(data: bytes) -> bytes:
    """The header block of a metadata file: everything before the first empty line. The
    body is the long description (often the whole README), which resolution never reads
    and which the email parser would otherwise walk line by line."""
    end = _END_OF_HEADERS.search(data)
    return data[: end.start() + 1] if end else data


def parse_core_metadata(data: bytes, origin: str) -> CoreMetadata:
    raw, _ = parse_email(_headers(data))
    requirements = []
    for text in raw.get("requires_dist", []):
        try:
            requirements.append(Requirement(text))
        except InvalidRequirement:
            logger.warning("%s: ignoring unparsable Requires-Dist %r", origin, text)
    return CoreMetadata(tuple(requirements), raw.get("requires_python"), origin)


_SDIST_FILES = frozenset({"PKG-INFO", "pyproject.toml"})


def is_gzip_tar(filename: str) -> bool:
    """A ``.tar.gz`` reads front to back (it can be read as it downloads); a zip cannot."""
    return filename.endswith((".tar.gz", ".tgz"))


def read_sdist(path: Path, wanted: frozenset[str] = _SDIST_FILES) -> SdistInfo:
    with path.open("rb") as source:
        return read_sdist_file(source, path.name, wanted)


def read_sdist_file(
    source: BinaryIO, filename: str, wanted: frozenset[str] = _SDIST_FILES
) -> SdistInfo:
    """``PKG-INFO`` and ``pyproject.toml`` (or only those ``wanted``) from the sdist's top
    directory, without extracting. Reading stops once it has them: a large sdist's tar
    members are most of a cold full plan's CPU time (numpy's 8,500, scipy's 19,000). A
    ``.tar.gz`` is read front to back only, so ``source`` may be a download under way."""
    try:
        if filename.endswith(".zip"):
            found = _zip_files(source, wanted)
        elif is_gzip_tar(filename):
            gzip = io.BufferedReader(ForwardGzipReader(source, MAX_UNPACKED), 1 << 16)
            found = top_level_files(gzip, wanted, _MAX_MEMBER)
        else:  # the older sdist formats (.tar.bz2, .tar): rare, read by tarfile
            found = _tarfile_files(source, wanted)
    except (tarfile.TarError, TarScanError, zipfile.BadZipFile, OSError) as exc:
        raise MetadataError(f"{filename}: not a readable sdist archive: {exc}") from None
    pyproject = None
    if "pyproject.toml" in found:
        try:
            pyproject = tomllib.loads(found["pyproject.toml"].decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise MetadataError(f"{filename}: pyproject.toml is not valid TOML: {exc}") from None
    return SdistInfo(pkg_info=found.get("PKG-INFO"), pyproject=pyproject)


def _zip_files(source: BinaryIO, wanted: frozenset[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            parts = PurePosixPath(info.filename).parts
            if len(parts) == 2 and parts[1] in wanted and info.file_size <= _MAX_MEMBER:
                found.setdefault(parts[1], archive.read(info))
    return found


def _tarfile_files(source: BinaryIO, wanted: frozenset[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=source) as archive:
        for member in archive:
            names = member.name.removeprefix("./").split("/")
            if len(names) == 2 and names[1] in wanted and member.isfile():
                extracted = archive.extractfile(member) if member.size <= _MAX_MEMBER else None
                if extracted is not None:
                    found.setdefault(names[1], extracted.read())
            if len(found) == len(wanted):
                break
    return found


def build_requires(info: SdistInfo, origin: str) -> list[Requirement]:
    """``build-system.requires``, or pip's setuptools default when the sdist declares none."""
    system = (info.pyproject or {}).get("build-system")
    texts: list[str] = list(LEGACY_BUILD_REQUIRES)
    if isinstance(system, dict) and isinstance(system.get("requires"), list):
        texts = [str(t) for t in system["requires"]]
    requirements = []
    for text in texts:
        try:
            requirements.append(Requirement(text))
        except InvalidRequirement as exc:
            raise MetadataError(f"{origin}: invalid build requirement {text!r}: {exc}") from None
    return requirements


def _static_pkg_info(info: SdistInfo, origin: str) -> CoreMetadata | None:
    """PKG-INFO when PEP 643 lets us trust its Requires-Dist (Metadata 2.2+, not dynamic)."""
    if info.pkg_info is None:
        return None
    raw, _ = parse_email(_headers(info.pkg_info))
    try:
        version = Version(raw.get("metadata_version", "1.0"))
    except InvalidVersion:
        return None
    dynamic = {field.lower() for field in raw.get("dynamic", [])}
    if version < Version("2.2") or "requires-dist" in dynamic:
        return None
    return parse_core_metadata(info.pkg_info, f"{origin} (PKG-INFO)")


def _prepare_metadata(sdist_path: Path, cache: Path, origin: str) -> CoreMetadata:
    """PEP 517 ``prepare_metadata_for_build_wheel`` in an isolated environment; cached."""
    if cache.exists():
        return parse_core_metadata(cache.read_bytes(), f"{origin} (PEP 517, cached)")
    # Imported here, not at the top: `build` costs 50 ms to import and this path is rare,
    # while every planner process (and `manage.py plan`) would pay it at start-up.
    from build.util import project_wheel_metadata

    with tempfile.TemporaryDirectory(prefix="refinery-metadata-") as scratch:
        try:
            with tarfile.open(sdist_path) as archive:
                archive.extractall(scratch, filter="data")
        except tarfile.TarError:
            with zipfile.ZipFile(sdist_path) as archive:
                archive.extractall(scratch)
        roots = [p for p in Path(scratch).iterdir() if p.is_dir()]
        if len(roots) != 1:
            raise MetadataError(f"{origin}: the sdist has no single top directory")
        try:
            message = cast(email.message.Message, project_wheel_metadata(roots[0], isolated=True))
        except Exception as exc:  # the build backend's own failure, reported as ours
            raise MetadataError(f"{origin}: preparing metadata failed: {exc}") from exc
    data = _metadata_bytes(message)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(data)
    return parse_core_metadata(data, f"{origin} (PEP 517)")


def _metadata_bytes(message: email.message.Message) -> bytes:
    """The fields as METADATA text, without the description (resolution never reads it).

    Not ``message.as_bytes()``: the email generator refuses multi-line values such as an
    old-style ``Description`` header holding a whole README (docopt 0.6.2's)."""
    lines = [
        f"{key}: " + str(value).replace("\n", "\n        ")
        for key, value in message.items()
        if key.lower() != "description"
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def dependencies_of(
    client: IndexClient, metadata_wheel: DistFile | None, sdist: DistFile | None
) -> CoreMetadata:
    if metadata_wheel is not None:
        return parse_core_metadata(client.wheel_metadata(metadata_wheel), metadata_wheel.filename)
    if sdist is None:
        raise MetadataError("neither a wheel nor an sdist to read metadata from")
    path = client.download(sdist)
    info = read_sdist(path)
    static = _static_pkg_info(info, sdist.filename)
    if static is not None:
        return static
    cache = client.cache_dir / "metadata" / sdist.sha256[:2] / f"{sdist.sha256}.pep517.metadata"
    try:
        return _prepare_metadata(path, cache, sdist.filename)
    except MetadataError as exc:
        if info.pkg_info is None:
            raise
        # The backend could not run here (often for want of the very system library the
        # build will be repaired with): PKG-INFO's own Requires-Dist is the best there is.
        logger.warning("%s; using its PKG-INFO", exc)
        return parse_core_metadata(info.pkg_info, f"{sdist.filename} (PKG-INFO: {exc})")


def sdist_build_requires(client: IndexClient, sdist: DistFile) -> list[Requirement]:
    """Build requirements of an sdist; kept by its sha256, so a re-plan opens no tarball."""
    cached = cached_build_requires(client, sdist)
    if cached is not None:
        return cached
    wanted = frozenset({"pyproject.toml"})
    if is_gzip_tar(sdist.filename):  # unpacked as it downloads
        pyproject_only = client.read_while_downloading(
            sdist, lambda source: read_sdist_file(source, sdist.filename, wanted)
        )
    else:
        pyproject_only = read_sdist(client.download(sdist), wanted)
    requirements = build_requires(pyproject_only, sdist.filename)
    # Whole or not at all: a helper process may be stopped halfway (plans.build_requires_process).
    atomic_write(
        _build_requires_path(client, sdist), json.dumps([str(r) for r in requirements]).encode()
    )
    return requirements


def _build_requires_path(client: IndexClient, sdist: DistFile) -> Path:
    return client.cache_dir / "metadata" / sdist.sha256[:2] / f"{sdist.sha256}.build-requires.json"


def cached_build_requires(client: IndexClient, sdist: DistFile) -> list[Requirement] | None:
    """The build requirements an earlier read of this sdist kept, or None."""
    try:
        texts = json.loads(_build_requires_path(client, sdist).read_bytes())
        return [Requirement(text) for text in texts]
    except (OSError, ValueError, TypeError, InvalidRequirement):
        return None
