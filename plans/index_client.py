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
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

from packaging.utils import NormalizedName, canonicalize_name

from plans.project_pages import (
    CachedPage,
    DistFile,
    MalformedPage,
    PagePart,
    ProjectPage,
    decode_cached,
    encode_cached,
    group_page_json,
    with_fetched_at,
)
from plans.verifying_download import DigestMismatch, VerifyingDownload
from plans.zip_scan import ZipScanError, wheel_metadata
from refinery.lib.backoff import retry_delay

if TYPE_CHECKING:
    import zipfile

    import urllib3

__all__ = ["DistFile", "IndexClient", "IndexFetchError", "ProjectPage", "UnknownProject"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

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
        self._timeout = timeout
        self._workers = workers
        self._ca_bundle = ca_bundle
        self._http_client: urllib3.PoolManager | None = None
        # Pages and metadata get separate pools: the resolver blocks on pages, so they must
        # never queue behind speculative metadata reads.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="index-meta")
        self._page_pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="index-page")
        self._lock = threading.Lock()
        self._pages: dict[str, Future[ProjectPage]] = {}
        self._metadata: dict[str, Future[bytes]] = {}
        self.network_requests = 0

    @property
    def workers(self) -> int:
        """How many requests this client makes at once."""
        return self._workers

    def options(self) -> dict[str, Any]:
        """What makes an equal client in another process (``from_options``), as JSON values."""
        return {
            "index_urls": self.index_urls,
            "cache_dir": str(self.cache_dir.resolve()),
            "ttl": self.ttl,
            "workers": self._workers,
            "timeout": self._timeout,
            "retries": self.retries,
            "ca_bundle": self._ca_bundle,
        }

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> IndexClient:
        return cls(
            list(options["index_urls"]),
            Path(options["cache_dir"]),
            ttl=float(options["ttl"]),
            workers=int(options["workers"]),
            timeout=float(options["timeout"]),
            retries=int(options["retries"]),
            ca_bundle=options["ca_bundle"],
        )

    @property
    def _http(self) -> urllib3.PoolManager:
        """The connection pool, made on first use: a re-plan inside the TTL never needs
        one, and importing the HTTP stack and loading CA certificates is a good part of
        such a re-plan's time. urllib3 rather than httpx: a cold plan reads some 40 MB of
        JSON, and urllib3 reads a body with a third of httpx's CPU time (measured), which
        matters because the planner is bound by one core (the GIL), not by the network."""
        with self._lock:
            if self._http_client is None:
                import ssl

                import urllib3

                from refinery.lib.host_addresses import pool_manager

                context = (
                    ssl.create_default_context(cafile=self._ca_bundle)
                    if self._ca_bundle
                    else ssl.create_default_context()
                )
                self._http_client = pool_manager(
                    # One connection per worker thread: more would only add TLS handshakes.
                    maxsize=self._workers,
                    block=True,
                    ssl_context=context,
                    timeout=urllib3.Timeout(connect=10, read=self._timeout),
                    # Redirects are followed; every other retry is ours (see _request).
                    retries=urllib3.Retry(
                        total=None, connect=0, read=0, status=0, other=0, redirect=5
                    ),
                    headers={"User-Agent": "wheel-refinery (+planner)"},
                )
            return self._http_client

    def close(self) -> None:
        self._page_pool.shutdown(wait=False, cancel_futures=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._http_client is not None:
            self._http_client.clear()

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- HTTP ------------------------------------------------------------------------

    def _request(
        self, method: str, url: str, headers: dict[str, str] | None = None
    ) -> urllib3.BaseHTTPResponse:
        """One request with retries and exponential backoff on timeouts, resets and 5xx."""
        import urllib3

        http = self._http
        for attempt in range(self.retries + 1):
            try:
                with self._lock:
                    self.network_requests += 1
                response = http.request(method, url, headers=headers)
            except urllib3.exceptions.HTTPError as exc:
                if attempt == self.retries:
                    raise IndexFetchError(
                        f"{url}: {_reason(exc)} after {attempt + 1} tries"
                    ) from exc
            else:
                if response.status not in _RETRY_STATUSES or attempt == self.retries:
                    return response
            _pause_before_retry(attempt)
        raise AssertionError("unreachable")

    def get_range(self, url: str, start: int, end: int) -> bytes:
        response = self._request("GET", url, {"Range": f"bytes={start}-{end}"})
        if response.status != 206:
            raise IndexFetchError(f"{url}: range request answered {response.status}")
        return response.data

    # --- project pages ----------------------------------------------------------------

    def _page_cache_path(self, url: str) -> Path:
        return self.cache_dir / "pages" / f"{hashlib.sha256(url.encode()).hexdigest()}.msgpack"

    def _cached_page(self, url: str) -> tuple[bytes, CachedPage] | None:
        try:
            data = self._page_cache_path(url).read_bytes()
            return data, decode_cached(data)
        except (OSError, MalformedPage):
            return None

    def _fresh_parts(self, name: NormalizedName) -> list[PagePart] | None:
        """Every index's page of ``name`` from the cache, when all are within the TTL."""
        parts: list[PagePart] = []
        for index_url in self.index_urls:
            url = f"{index_url}{name}/"
            cached = self._cached_page(url)
            if cached is None or time.time() - cached[1].fetched_at >= self.ttl:
                return None
            parts.append((url, cached[1].groups))
        return parts

    def _fetch_page(self, url: str) -> PagePart | None:
        """The files listed by the PEP 691 page at ``url`` (cached for the TTL), None on 404."""
        path = self._page_cache_path(url)
        found = self._cached_page(url)
        cached_bytes, cached = found if found is not None else (None, None)
        if cached is not None and time.time() - cached.fetched_at < self.ttl:
            return url, cached.groups
        headers = {"Accept": PEP691}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        response = self._request("GET", url, headers)
        if response.status == 304 and cached is not None and cached_bytes is not None:
            atomic_write(path, with_fetched_at(cached_bytes, time.time()))
            return url, cached.groups
        if response.status == 404:
            return None
        if response.status != 200:
            raise IndexFetchError(f"{url}: HTTP {response.status}")
        if not response.headers.get("content-type", "").startswith(PEP691):
            raise IndexFetchError(f"{url}: the index did not answer with PEP 691 JSON")
        try:
            groups = group_page_json(response.data)
        except MalformedPage as exc:
            raise IndexFetchError(f"{url}: malformed PEP 691 JSON: {exc}") from None
        etag, last_modified = response.headers.get("etag"), response.headers.get("last-modified")
        atomic_write(path, encode_cached(url, time.time(), etag, last_modified, groups))
        return url, groups

    def _load_project(self, name: NormalizedName) -> ProjectPage:
        parts = [
            part
            for index_url in self.index_urls
            if (part := self._fetch_page(f"{index_url}{name}/")) is not None
        ]
        if not parts:
            raise UnknownProject(name, self.index_urls)
        return ProjectPage(name, parts)

    def _page_future(self, name: str) -> Future[ProjectPage]:
        canonical = canonicalize_name(name)
        # Most calls find the future already there: a plain read (atomic for a dict) then.
        known = self._pages.get(canonical)
        if known is not None:
            return known
        with self._lock:
            future = self._pages.get(canonical)
            if future is not None:
                return future
            future = self._pages[canonical] = Future()
        # Outside the lock: starting a pool thread waits for the GIL, and under the lock
        # that wait would stall every other thread asking for a page.
        fresh = self._fresh_parts(canonical)
        if fresh is not None:  # within the TTL: no network, so no thread hop either
            _complete(future, ProjectPage, canonical, fresh)
        else:
            self._page_pool.submit(_complete, future, self._load_project, canonical)
        return future

    def page_files_read(self) -> list[str]:
        """The cache files of every project page this client was asked for."""
        with self._lock:
            names = list(self._pages)
        return [
            str(self._page_cache_path(f"{index_url}{name}/"))
            for name in names
            for index_url in self.index_urls
        ]

    def project_future(self, name: str) -> Future[ProjectPage]:
        return self._page_future(name)

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
            if response.status == 200:
                data = response.data
        if data is None and dist.size:
            data = self._metadata_by_range(dist)
        if data is None:  # rare (no size listed, or a zip the scan cannot read): zipfile then
            import zipfile

            with zipfile.ZipFile(self.download(dist)) as archive:
                data = _read_metadata_member(archive, dist)
        atomic_write(path, data)
        return data

    def _metadata_by_range(self, dist: DistFile) -> bytes | None:
        assert dist.size is not None
        try:
            return wheel_metadata(cast(BinaryIO, _RangeFile(self, dist.url, dist.size)), dist.size)
        except (IndexFetchError, ZipScanError) as exc:
            logger.info("range read of %s failed (%s); downloading it", dist.filename, exc)
            return None

    def wheel_metadata_future(self, dist: DistFile) -> Future[bytes]:
        known = self._metadata.get(dist.sha256)
        if known is not None:
            return known
        with self._lock:
            future = self._metadata.get(dist.sha256)
            if future is not None:
                return future
            future = self._metadata[dist.sha256] = Future()
        path = self._metadata_path(dist)
        if path.exists():  # kept for good: read it here rather than in a pool thread
            _complete(future, path.read_bytes)
        else:
            self._pool.submit(_complete, future, self._load_wheel_metadata, dist)
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
        atomic_write(self._derived_path(key), json.dumps(value).encode())

    def _file_path(self, dist: DistFile) -> Path:
        return self.cache_dir / "files" / dist.sha256[:2] / f"{dist.sha256}-{dist.filename}"

    def download(self, dist: DistFile) -> Path:
        """The file itself, verified against its sha256 and kept in the cache."""
        path = self._file_path(dist)
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = _partial_path(path)
        import urllib3

        for attempt in range(self.retries + 1):
            digest = hashlib.sha256()
            try:
                response = self._http.request("GET", dist.url, preload_content=False)
                try:
                    if response.status != 200:
                        raise _BadStatus(response.status)
                    with partial.open("wb") as out:
                        for chunk in response.stream(1 << 16):
                            digest.update(chunk)
                            out.write(chunk)
                finally:
                    response.release_conn()
                break
            except (urllib3.exceptions.HTTPError, _BadStatus) as exc:
                # A 5xx or 429 is worth another try, as a reset connection is; a 404 is not.
                final = isinstance(exc, _BadStatus) and exc.status not in _RETRY_STATUSES
                if final or attempt == self.retries:
                    partial.unlink(missing_ok=True)
                    said = f"HTTP {exc.status}" if isinstance(exc, _BadStatus) else _reason(exc)
                    tries = "" if final else f" after {attempt + 1} tries"
                    raise IndexFetchError(f"{dist.url}: {said}{tries}") from exc
                _pause_before_retry(attempt)
        if digest.hexdigest() != dist.sha256:
            partial.unlink(missing_ok=True)
            raise _hash_mismatch(dist, digest.hexdigest())
        partial.replace(path)
        return path

    def read_while_downloading(self, dist: DistFile, read: Callable[[BinaryIO], T]) -> T:
        """``read`` applied to the file as it downloads, without keeping the file (what it
        read is what the caller keeps). What ``read`` returns (or raises) stands only once
        the whole file has matched its sha256. A download that breaks off is fetched again
        with ``download``'s retries, and a file the cache already holds is read from it."""
        if not self._file_path(dist).exists():
            streamed = self._read_streaming(dist, read)
            if streamed is not None:
                return streamed[0]
        with self.download(dist).open("rb") as kept:
            return read(kept)

    def _read_streaming(self, dist: DistFile, read: Callable[[BinaryIO], T]) -> tuple[T] | None:
        """(what ``read`` returned,), or None when the network broke off."""
        import urllib3

        try:
            response = self._http.request("GET", dist.url, preload_content=False)
        except urllib3.exceptions.HTTPError:
            return None
        if response.status != 200:
            response.release_conn()
            return None
        outcome: tuple[T] | Exception
        with VerifyingDownload(response, dist.sha256) as stream:
            try:
                outcome = (read(cast(BinaryIO, stream)),)
            except urllib3.exceptions.HTTPError:
                return None
            except Exception as exc:  # the reader's verdict on the bytes, once verified
                outcome = exc
            try:
                stream.finish()
            except urllib3.exceptions.HTTPError:
                return None
            except DigestMismatch as exc:
                raise _hash_mismatch(dist, exc.actual) from None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class _BadStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _partial_path(path: Path) -> Path:
    """Where ``path`` is written before it is whole (one per thread: two may fetch it)."""
    return path.with_suffix(path.suffix + f".{os.getpid()}.{threading.get_ident()}.part")


def _hash_mismatch(dist: DistFile, actual: str) -> HashMismatch:
    return HashMismatch(
        f"{dist.filename}: sha256 {actual} does not match the index's {dist.sha256}"
    )


def _pause_before_retry(attempt: int) -> None:
    """The one backoff of every index request: after try ``attempt`` (0-based), 0.5 s
    doubling, with equal jitter (refinery.lib.backoff)."""
    time.sleep(retry_delay(attempt + 1, base_seconds=0.5, max_seconds=8).total_seconds())


def _complete(future: Future[Any], function: Callable[..., Any], *args: Any) -> None:
    """Run ``function`` and settle ``future`` with its result or its exception."""
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(function(*args))
    except BaseException as exc:  # handed to whoever waits on the future
        future.set_exception(exc)


def _reason(exc: Exception) -> str:
    """What went wrong, without urllib3's wrapping (MaxRetryError around the real cause)."""
    cause = getattr(exc, "reason", None)
    return type(cause if isinstance(cause, Exception) else exc).__name__


def _read_metadata_member(archive: zipfile.ZipFile, dist: DistFile) -> bytes:
    members = [
        n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
    ]
    if len(members) != 1:
        raise IndexFetchError(
            f"{dist.filename}: expected one .dist-info/METADATA, found {len(members)}"
        )
    return archive.read(members[0])


def atomic_write(path: Path, data: bytes) -> None:
    """``data`` at ``path``, whole or not at all (another process may read it meanwhile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + f".{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
