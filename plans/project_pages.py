"""A project's files as PEP 691 JSON lists them, parsed only as far as planning needs.

Big projects list tens of thousands of files (pydantic-core: 15,000, 6.9 MB of JSON) and a
plan reads about seventy pages, yet the resolver looks at only a few versions of each.
So a page is decoded by msgspec straight into typed structs (only the fields we use, in
C), grouped by the version in each file name with one split per file, and nothing more
happens to a file until the resolver asks for its version. The page cache keeps the
groups as MessagePack, each group still encoded, so a warm re-plan decodes only the
versions it looks at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

import msgspec
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version


class MalformedPage(ValueError):
    """The page is not PEP 691 JSON we can read."""


class Hashes(msgspec.Struct, frozen=True, gc=False):
    sha256: str | None = None


# gc=False: a plan decodes some 100,000 of these, and they hold no references that could
# form a cycle, so the cyclic collector need not track (and keep rescanning) them.
class IndexFile(msgspec.Struct, omit_defaults=True, gc=False):
    """One entry of a PEP 691 ``files`` list: the fields planning uses, under their JSON names."""

    filename: str
    url: str
    hashes: Hashes = Hashes()
    requires_python: str | None = msgspec.field(default=None, name="requires-python")
    size: int | None = None
    upload_time: str | None = msgspec.field(default=None, name="upload-time")
    yanked: bool | str = False
    core_metadata: bool | dict[str, str] = msgspec.field(default=False, name="core-metadata")
    dist_info_metadata: bool | dict[str, str] = msgspec.field(
        default=False, name="data-dist-info-metadata"
    )


class _PageJson(msgspec.Struct):
    files: list[IndexFile] = []


# Files grouped by the version text in their names, as fetched and as the cache keeps them.
Groups = dict[str, list[IndexFile]]


class CachedPage(msgspec.Struct):
    """A page in the on-disk cache: HTTP validators and the grouped files, each group a
    separately decodable MessagePack value."""

    url: str
    fetched_at: float
    etag: str | None
    last_modified: str | None
    groups: dict[str, msgspec.Raw]


_decode_page_json = msgspec.json.Decoder(_PageJson).decode
_decode_cached = msgspec.msgpack.Decoder(CachedPage).decode
_decode_group = msgspec.msgpack.Decoder(list[IndexFile]).decode
_encode = msgspec.msgpack.Encoder().encode

# Targets are Linux: a wheel for these platforms is never installed nor needed.
_NEVER_LINUX = ("win", "macosx", "ios", "android", "emscripten", "pyodide")


def group_page_json(body: bytes) -> Groups:
    """The files of a PEP 691 page, grouped by the version text of their file names.

    Per file this is one split: wheels of other operating systems and files that are
    neither wheels nor sdists are dropped here, everything else is checked when its
    version is first used (``ProjectPage.files_for``)."""
    try:
        files = _decode_page_json(body).files
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedPage(str(exc)) from None
    groups: Groups = {}
    for entry in files:
        filename = entry.filename
        key: str | None
        if filename.endswith(".whl"):
            parts = filename.split("-")
            if len(parts) not in (5, 6) or parts[-1].startswith(_NEVER_LINUX):
                continue
            key = parts[1]
        elif filename.endswith((".tar.gz", ".zip")):
            key = _sdist_version_text(filename)
            if key is None:
                continue
        else:
            continue
        group = groups.get(key)
        if group is None:
            groups[key] = [entry]
        else:
            group.append(entry)
    return groups


def encode_cached(
    url: str, fetched_at: float, etag: str | None, last_modified: str | None, groups: Groups
) -> bytes:
    encoded = {text: msgspec.Raw(_encode(group)) for text, group in groups.items()}
    return _encode(CachedPage(url, fetched_at, etag, last_modified, encoded))


def decode_cached(data: bytes) -> CachedPage:
    try:
        return _decode_cached(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedPage(str(exc)) from None


def with_fetched_at(data: bytes, fetched_at: float) -> bytes:
    """The cached page re-stamped (after a 304), its groups copied still encoded."""
    record = decode_cached(data)
    record.fetched_at = fetched_at
    return _encode(record)


@dataclass(frozen=True)
class DistFile:
    """One file of a project as the index lists it."""

    filename: str
    url: str
    sha256: str
    size: int | None
    requires_python: str | None
    yanked: bool
    upload_time: str | None
    core_metadata: bool
    name: NormalizedName
    version: Version
    is_wheel: bool

    @property
    def wheel_tags(self) -> frozenset[Tag]:
        return _wheel_tags(self.filename) if self.is_wheel else frozenset()

    def as_source(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "url": self.url,
            "sha256": self.sha256,
            "size": self.size,
            "requires_python": self.requires_python,
            "upload_time": self.upload_time,
        }


# One index's page of a project: its URL (relative file URLs are resolved against it) and
# its groups, either decoded or still MessagePack (from the cache).
PagePart = tuple[str, dict[str, list[IndexFile]] | dict[str, msgspec.Raw]]


class ProjectPage:
    """A project's files across the indexes, by version; a version's ``DistFile`` objects
    are made (and its files checked) only when it is asked for."""

    def __init__(self, name: NormalizedName, parts: Iterable[PagePart]) -> None:
        self.name = name
        by_version: dict[Version, list[tuple[str, Any]]] = {}
        for page_url, groups in parts:
            for text, group in groups.items():
                version = _parse_version_or_none(text)
                if version is not None:
                    by_version.setdefault(version, []).append((page_url, group))
        self._by_version = by_version
        self._files: dict[Version, list[DistFile]] = {}

    @property
    def versions(self) -> list[Version]:
        return list(self._by_version)

    def files_for(self, version: Version) -> list[DistFile]:
        files = self._files.get(version)
        if files is None:
            files = []
            for page_url, group in self._by_version.get(version, []):
                entries = _decode_group(group) if isinstance(group, msgspec.Raw) else group
                for entry in entries:
                    dist = _dist_file(self.name, version, entry, page_url)
                    if dist is not None:
                        files.append(dist)
            self._files[version] = files
        return files

    @property
    def files(self) -> list[DistFile]:
        return [f for version in self._by_version for f in self.files_for(version)]

    def find(self, sha256: str, version: Version | None = None) -> DistFile | None:
        """The file with this sha256; given its version, only that version's files are made."""
        files = self.files if version is None else self.files_for(version)
        return next((f for f in files if f.sha256 == sha256), None)


def _dist_file(
    name: NormalizedName, version: Version, entry: IndexFile, page_url: str
) -> DistFile | None:
    """The entry as a ``DistFile``, or None when we cannot use it: no sha256 (we verify
    every file we use by it) or a file name that belongs to another project."""
    sha256 = entry.hashes.sha256
    if not sha256:
        return None
    filename = entry.filename
    is_wheel = filename.endswith(".whl")
    if is_wheel:
        if _canonical(filename.split("-", 1)[0]) != name:
            return None
    elif _sdist_name(filename) != name:
        return None
    url = entry.url
    if not url.startswith(("https://", "http://")):
        url = urljoin(page_url, url)
    return DistFile(
        filename=filename,
        url=url,
        sha256=sha256.lower(),
        size=entry.size,
        requires_python=entry.requires_python or None,
        yanked=bool(entry.yanked),
        upload_time=entry.upload_time,
        core_metadata=bool(entry.core_metadata or entry.dist_info_metadata),
        name=name,
        version=version,
        is_wheel=is_wheel,
    )


@lru_cache(maxsize=65536)  # bounded: a long-lived worker meets versions without end
def parse_version(text: str) -> Version:
    """Versions repeat across files and projects; parse each string once."""
    return Version(text)


@lru_cache(maxsize=65536)  # bounded: a long-lived worker meets versions without end
def _parse_version_or_none(text: str) -> Version | None:
    try:
        return parse_version(text)
    except InvalidVersion:
        return None


def _sdist_version_text(filename: str) -> str | None:
    """The version text of an sdist's name, as written: it is parsed (and an invalid one
    dropped) only when its group is read. Parsing every sdist of a page here was a tenth of
    grouping it (11,600 ``Version`` objects in a medium plan, measured)."""
    stem = filename[: -len(".tar.gz")] if filename.endswith(".tar.gz") else filename[: -len(".zip")]
    name, dash, version = stem.rpartition("-")
    return version if dash and name and version else None


def _sdist_name(filename: str) -> NormalizedName | None:
    try:
        return parse_sdist_filename(filename)[0]
    except (InvalidSdistFilename, InvalidVersion):
        return None


@lru_cache(maxsize=65536)
def _wheel_tags(filename: str) -> frozenset[Tag]:
    return parse_wheel_filename(filename)[3]


@lru_cache(maxsize=8192)
def _canonical(raw_name: str) -> NormalizedName:
    return canonicalize_name(raw_name)
