"""A client for PEP 691 package indexes with a disk cache, retries and parallel prefetch.

Caching follows what each response is:

- files and their metadata are addressed by their sha256, so they never change: once
  fetched (and verified) they are kept for good;
- project pages change, so they are kept for ``ttl`` seconds and then revalidated
  with ``If-None-Match`` / ``If-Modified-Since`` when upstream sent ``ETag`` or
  ``Last-Modified`` (the proxy in front of PyPI here strips both, so only the TTL
  helps: a re-plan inside it touches no network at all).

Wheel metadata comes from PEP 658 ``.metadata`` files when the index offers them,
else from the wheel's own ``*.dist-info/METADATA`` read with HTTP range requests
(the zip directory at the end, then that one member), else by downloading the wheel.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import random
import ssl
import threading
import time
import zipfile
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

logger = logging.getLogger(__name__)

PEP691 = "application/vnd.pypi.simple.v1+json"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class IndexFetchError(Exception):
    """The index could not answer (network, HTTP error, malformed page)."""


class UnknownProject(IndexFetchError):
    def __init__(self, name: str, index_urls: Iterable[str]) -> None:
        super().__init__(f"no project named {name!r} on {', '.join(index_urls)}")
        self.name = name


class HashMismatch(IndexFetchError):
    pass


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


# A file as the page cache keeps it: everything parsed once, when the page was fetched.
# [filename, absolute url, sha256, size, requires_python, yanked, upload_time,
#  core_metadata, version, is_wheel]
CompactFile = list[Any]


class ProjectPage:
    """A project's files across the indexes, grouped by version; ``DistFile`` objects are
    made only for the versions asked for (big projects list thousands of files)."""

    def __init__(self, name: NormalizedName, compact: list[CompactFile]) -> None:
        self.name = name
        grouped: dict[str, list[CompactFile]] = {}
        for entry in compact:
            grouped.setdefault(entry[8], []).append(entry)
        self._by_version = {parse_version(text): entries for text, entries in grouped.items()}
        self._files: dict[Version, list[DistFile]] = {}

    @property
    def versions(self) -> list[Version]:
        return list(self._by_version)

    def files_for(self, version: Version) -> list[DistFile]:
        files = self._files.get(version)
        if files is None:
            files = [_dist_file(self.name, version, e) for e in self._by_version.get(version, [])]
            self._files[version] = files
        return files

    @property
    def files(self) -> list[DistFile]:
        return [f for version in self._by_version for f in self.files_for(version)]

    def find(self, sha256: str) -> DistFile | None:
        """The file with this sha256, made without materializing the rest of the page."""
        for version, entries in self._by_version.items():
            for entry in entries:
                if entry[2] == sha256:
                    return _dist_file(self.name, version, entry)
        return None


@cache
def parse_version(text: str) -> Version:
    """Versions repeat across files and projects; parse each string once."""
    return Version(text)


@lru_cache(maxsize=65536)
def _wheel_tags(filename: str) -> frozenset[Tag]:
    return parse_wheel_filename(filename)[3]


_NEVER_LINUX = ("win", "macosx", "ios", "android", "emscripten", "pyodide")


@lru_cache(maxsize=8192)
def _canonical(raw_name: str) -> NormalizedName:
    return canonicalize_name(raw_name)


@cache
def _normal_version(text: str) -> str | None:
    try:
        return str(parse_version(text))
    except InvalidVersion:
        return None


def _compact(name: NormalizedName, raw: dict[str, Any], page_url: str) -> CompactFile | None:
    """The few fields we use, parsed once per fetch (pages list up to tens of thousands of
    files, so this stays cheap: no tag parsing, cached name and version normalization)."""
    hashes = raw.get("hashes")
    sha256 = hashes.get("sha256") if hashes else None
    if not sha256:
        return None  # We verify every file we use by its sha256; unhashed files are skipped.
    filename: str = raw.get("filename", "")
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6) or _canonical(parts[0]) != name:
            return None
        if parts[-1].startswith(_NEVER_LINUX):
            return None  # targets are Linux: such a wheel is never installed nor needed
        version, is_wheel = _normal_version(parts[1]), True
    elif filename.endswith((".tar.gz", ".zip")):
        try:
            sdist_name, sdist_version = parse_sdist_filename(filename)
        except (InvalidSdistFilename, InvalidVersion):
            return None
        if sdist_name != name:
            return None
        version, is_wheel = str(sdist_version), False
    else:
        return None
    if version is None:
        return None
    url: str = raw["url"]
    if not url.startswith(("https://", "http://")):
        url = urljoin(page_url, url)
    core = raw.get("core-metadata", raw.get("data-dist-info-metadata", False))
    return [
        filename,
        url,
        sha256.lower(),
        raw.get("size"),
        raw.get("requires-python") or None,
        bool(raw.get("yanked", False)),
        raw.get("upload-time"),
        bool(core),
        version,
        is_wheel,
    ]


def _dist_file(name: NormalizedName, version: Version, entry: CompactFile) -> DistFile:
    filename, url, sha256, size, requires_python, yanked, upload_time, core, _, is_wheel = entry
    return DistFile(
        filename=filename,
        url=url,
        sha256=sha256,
        size=size,
        requires_python=requires_python,
        yanked=yanked,
        upload_time=upload_time,
        core_metadata=core,
        name=name,
        version=version,
        is_wheel=is_wheel,
    )


class _RangeFile(io.RawIOBase):
    """A read-only file over HTTP range requests, fetching blocks on demand."""

    def __init__(self, client: IndexClient, url: str, size: int) -> None:
        self._client = client
        self._url = url
        self._size = size
        self._pos = 0
        self._blocks: dict[int, bytes] = {}
        self.requests = 0

    _BLOCK = 64 * 1024

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _ensure(self, start: int, end: int) -> None:
        first, last = start // self._BLOCK, (end - 1) // self._BLOCK
        missing = [b for b in range(first, last + 1) if b not in self._blocks]
        if not missing:
            return
        lo = missing[0] * self._BLOCK
        hi = min(self._size, (missing[-1] + 1) * self._BLOCK) - 1
        data = self._client.get_range(self._url, lo, hi)
        self.requests += 1
        for b in range(missing[0], missing[-1] + 1):
            offset = b * self._BLOCK - lo
            self._blocks[b] = data[offset : offset + self._BLOCK]

    def read(self, size: int = -1) -> bytes:
        if self._pos >= self._size:
            return b""
        end = self._size if size < 0 else min(self._size, self._pos + size)
        self._ensure(self._pos, end)
        out = bytearray()
        pos = self._pos
        while pos < end:
            block = self._blocks[pos // self._BLOCK]
            offset = pos % self._BLOCK
            chunk = block[offset : offset + (end - pos)]
            out += chunk
            pos += len(chunk)
        self._pos = end
        return bytes(out)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class IndexClient:
    """Reads projects, metadata and files from one or more PEP 691 indexes."""

    def __init__(
        self,
        index_urls: list[str],
        cache_dir: Path,
        *,
        ttl: float = 600,
        workers: int = 16,
        timeout: float = 30,
        retries: int = 3,
        ca_bundle: str | None = None,
    ) -> None:
        if not index_urls:
            raise ValueError("at least one index URL is needed")
        self.index_urls = [u if u.endswith("/") else u + "/" for u in index_urls]
        self.cache_dir = cache_dir
        self.ttl = ttl
        self.retries = retries
        context = (
            ssl.create_default_context(cafile=ca_bundle)
            if ca_bundle
            else ssl.create_default_context()
        )
        self._http = httpx.Client(
            verify=context,
            timeout=httpx.Timeout(timeout, connect=10),
            limits=httpx.Limits(max_connections=workers * 2, max_keepalive_connections=workers * 2),
            follow_redirects=True,
            headers={"User-Agent": "wheel-refinery (+planner)"},
        )
        # Pages and metadata get separate pools: the resolver blocks on pages, so they must
        # never queue behind speculative metadata reads.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="index-meta")
        self._page_pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="index-page")
        self._lock = threading.Lock()
        self._pages: dict[str, Future[ProjectPage]] = {}
        self._metadata: dict[str, Future[bytes]] = {}
        self.network_requests = 0

    def close(self) -> None:
        self._page_pool.shutdown(wait=False, cancel_futures=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- HTTP ------------------------------------------------------------------------

    def _request(
        self, method: str, url: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """One request with retries and exponential backoff on timeouts, resets and 5xx."""
        for attempt in range(self.retries + 1):
            try:
                with self._lock:
                    self.network_requests += 1
                response = self._http.request(method, url, headers=headers)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if attempt == self.retries:
                    raise IndexFetchError(
                        f"{url}: {type(exc).__name__} after {attempt + 1} tries"
                    ) from exc
            else:
                if response.status_code not in _RETRY_STATUSES or attempt == self.retries:
                    return response
            time.sleep(0.5 * 2**attempt + random.uniform(0, 0.25))
        raise AssertionError("unreachable")

    def get_range(self, url: str, start: int, end: int) -> bytes:
        response = self._request("GET", url, {"Range": f"bytes={start}-{end}"})
        if response.status_code != 206:
            raise IndexFetchError(f"{url}: range request answered {response.status_code}")
        return response.content

    # --- project pages ----------------------------------------------------------------

    def _page_cache_path(self, url: str) -> Path:
        return self.cache_dir / "pages" / f"{hashlib.sha256(url.encode()).hexdigest()}.json"

    def _fetch_page(self, name: NormalizedName, url: str) -> list[CompactFile] | None:
        """The files listed by the PEP 691 page at ``url`` (cached for the TTL), None on 404."""
        path = self._page_cache_path(url)
        cached: dict[str, Any] | None = None
        if path.exists():
            try:
                cached = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                cached = None
        if cached is not None and time.time() - cached["fetched_at"] < self.ttl:
            return cached["files"]  # type: ignore[no-any-return]
        headers = {"Accept": PEP691}
        if cached is not None and cached.get("etag"):
            headers["If-None-Match"] = cached["etag"]
        if cached is not None and cached.get("last_modified"):
            headers["If-Modified-Since"] = cached["last_modified"]
        response = self._request("GET", url, headers)
        if response.status_code == 304 and cached is not None:
            cached["fetched_at"] = time.time()
            _atomic_write(path, json.dumps(cached).encode())
            return cached["files"]  # type: ignore[no-any-return]
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise IndexFetchError(f"{url}: HTTP {response.status_code}")
        if not response.headers.get("content-type", "").startswith(PEP691):
            raise IndexFetchError(f"{url}: the index did not answer with PEP 691 JSON")
        try:
            body = response.json()
        except ValueError as exc:
            raise IndexFetchError(f"{url}: malformed JSON: {exc}") from None
        files = [c for raw in body.get("files", []) if (c := _compact(name, raw, url)) is not None]
        record = {
            "url": url,
            "fetched_at": time.time(),
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            "files": files,
        }
        _atomic_write(path, json.dumps(record).encode())
        return files

    def _load_project(self, name: NormalizedName) -> ProjectPage:
        files: list[CompactFile] = []
        found = False
        for index_url in self.index_urls:
            listed = self._fetch_page(name, f"{index_url}{name}/")
            if listed is not None:
                found = True
                files += listed
        if not found:
            raise UnknownProject(name, self.index_urls)
        return ProjectPage(name, files)

    def _page_future(self, name: str) -> Future[ProjectPage]:
        canonical = canonicalize_name(name)
        with self._lock:
            future = self._pages.get(canonical)
            if future is None:
                future = self._page_pool.submit(self._load_project, canonical)
                self._pages[canonical] = future
            return future

    def project_future(self, name: str) -> Future[ProjectPage]:
        return self._page_future(name)

    def prefetch(self, names: Iterable[str]) -> None:
        """Start loading these project pages in the background."""
        for name in names:
            self._page_future(name)

    def project(self, name: str) -> ProjectPage:
        return self._page_future(name).result()

    # --- metadata and files -------------------------------------------------------------

    def _metadata_path(self, dist: DistFile) -> Path:
        return self.cache_dir / "metadata" / dist.sha256[:2] / f"{dist.sha256}.metadata"

    def _load_wheel_metadata(self, dist: DistFile) -> bytes:
        path = self._metadata_path(dist)
        if path.exists():
            return path.read_bytes()
        data: bytes | None = None
        if dist.core_metadata:
            response = self._request("GET", dist.url + ".metadata")
            if response.status_code == 200:
                data = response.content
        if data is None and dist.size:
            data = self._metadata_by_range(dist)
        if data is None:
            with zipfile.ZipFile(self.download(dist)) as archive:
                data = _read_metadata_member(archive, dist)
        _atomic_write(path, data)
        return data

    def _metadata_by_range(self, dist: DistFile) -> bytes | None:
        assert dist.size is not None
        try:
            with zipfile.ZipFile(_RangeFile(self, dist.url, dist.size)) as archive:
                return _read_metadata_member(archive, dist)
        except (IndexFetchError, zipfile.BadZipFile, KeyError) as exc:
            logger.info("range read of %s failed (%s); downloading it", dist.filename, exc)
            return None

    def wheel_metadata_future(self, dist: DistFile) -> Future[bytes]:
        with self._lock:
            future = self._metadata.get(dist.sha256)
            if future is None:
                future = self._pool.submit(self._load_wheel_metadata, dist)
                self._metadata[dist.sha256] = future
            return future

    def wheel_metadata(self, dist: DistFile) -> bytes:
        """The core metadata (``METADATA``) of a wheel, cached by the wheel's sha256."""
        return self.wheel_metadata_future(dist).result()

    def _derived_path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.cache_dir / "derived" / digest[:2] / f"{digest}.json"

    def derived(self, key: str) -> Any:
        """A value computed from immutable, hash-addressed files (so it never goes stale)."""
        path = self._derived_path(key)
        try:
            return json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None

    def store_derived(self, key: str, value: Any) -> None:
        _atomic_write(self._derived_path(key), json.dumps(value).encode())

    def download(self, dist: DistFile) -> Path:
        """The file itself, verified against its sha256 and kept in the cache."""
        path = self.cache_dir / "files" / dist.sha256[:2] / f"{dist.sha256}-{dist.filename}"
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        partial = path.with_suffix(path.suffix + f".{os.getpid()}.{threading.get_ident()}.part")
        for attempt in range(self.retries + 1):
            try:
                with self._http.stream("GET", dist.url) as response, partial.open("wb") as out:
                    if response.status_code != 200:
                        raise IndexFetchError(f"{dist.url}: HTTP {response.status_code}")
                    for chunk in response.iter_bytes(1 << 16):
                        digest.update(chunk)
                        out.write(chunk)
                break
            except (httpx.TimeoutException, httpx.NetworkError) as exc:
                digest = hashlib.sha256()
                if attempt == self.retries:
                    partial.unlink(missing_ok=True)
                    raise IndexFetchError(f"{dist.url}: {type(exc).__name__}") from exc
                time.sleep(0.5 * 2**attempt)
        if digest.hexdigest() != dist.sha256:
            partial.unlink(missing_ok=True)
            raise HashMismatch(
                f"{dist.filename}: sha256 {digest.hexdigest()} does not match "
                f"the index's {dist.sha256}"
            )
        partial.replace(path)
        return path


def _read_metadata_member(archive: zipfile.ZipFile, dist: DistFile) -> bytes:
    members = [
        n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
    ]
    if len(members) != 1:
        raise IndexFetchError(
            f"{dist.filename}: expected one .dist-info/METADATA, found {len(members)}"
        )
    return archive.read(members[0])


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + f".{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
