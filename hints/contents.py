"""Which Debian package ships a file: a compact index of the archive's Contents files.

Debian publishes, per suite and architecture, ``Contents-<arch>.gz``: one line per file,
``<path><whitespace><section>/<package>[,<section>/<package>…]`` (arch-independent packages
are only in ``Contents-all.gz``). The files are large (150 MB and 520 MB unpacked for
bookworm amd64 and all) and ``apt-file`` takes seconds per search, so the index keeps only
what a failed build can ask for, in SQLite, keyed for lookups that take milliseconds:

- ``include``: headers under ``usr/include/`` (keyed by base name; the path decides subdirs),
- ``pc``: pkg-config modules (``…/pkgconfig/<module>.pc``),
- ``lib``: link-time libraries (``lib<name>.so`` and ``.a`` under ``usr/lib``),
- ``bin``: programs in ``bin``/``sbin`` directories,
- ``cmake``: CMake package configuration files (``<Name>Config.cmake``, ``<name>-config.cmake``),

plus every package name in the suite. An index is built for one preset's suite and one
architecture; lookups say which packages could provide something, ranking is elsewhere
(``hints.candidates``).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sqlite3
import ssl
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_BIN_DIRS = (b"usr/bin", b"bin", b"usr/sbin", b"sbin")
_PREFIXES = (
    b"usr/include/",
    b"usr/lib/",
    b"usr/share/",
    b"usr/bin/",
    b"bin/",
    b"usr/sbin/",
    b"sbin/",
)
_CMAKE_SUFFIXES = (b"Config.cmake", b"-config.cmake")


class ContentsError(Exception):
    """The index cannot be built or read; the message says why and what to run."""


@dataclass(frozen=True)
class FileHit:
    path: str
    package: str


def classify(path: bytes) -> tuple[str, str] | None:
    """(kind, key) for a path the index keeps, or None for one it drops."""
    directory, _, name = path.rpartition(b"/")
    text = name.decode("utf-8", "replace")
    if path.startswith(b"usr/include/"):
        return "include", text
    if directory in _BIN_DIRS:
        return "bin", text
    if name.endswith(b".pc") and directory.endswith(b"/pkgconfig"):
        return "pc", text[:-3]
    if path.startswith(b"usr/lib/") and name.startswith(b"lib"):
        stem, dot, extension = text[3:].rpartition(".")
        if dot and extension in ("so", "a") and stem:
            return "lib", stem
    if b"/cmake/" in path and name.endswith(_CMAKE_SUFFIXES):
        for suffix in _CMAKE_SUFFIXES:
            if name.endswith(suffix):
                return "cmake", text[: -len(suffix)].lower()
    return None


def parse_line(line: bytes) -> tuple[bytes, list[str]] | None:
    """A Contents line as (path, packages): the location list is after the last run of
    whitespace (paths may hold spaces), each entry ``section/package``."""
    stripped = line.rstrip(b"\n")
    parts = stripped.rsplit(None, 1)
    if len(parts) != 2:
        return None
    path, locations = parts
    packages = [
        entry.rsplit(b"/", 1)[-1].decode("utf-8", "replace") for entry in locations.split(b",")
    ]
    return path.rstrip(), packages


def _download(url: str, destination: Path, say: Callable[[str], None]) -> str:
    """Fetch ``url`` into ``destination``; returns its sha256."""
    cafile = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
    context = ssl.create_default_context(cafile=cafile if Path(cafile).exists() else None)
    digest = hashlib.sha256()
    say(f"fetching {url}")
    for attempt in range(1, 5):
        try:
            with (
                urllib.request.urlopen(url, context=context, timeout=120) as response,
                destination.open("wb") as out,
            ):
                while block := response.read(1 << 20):
                    digest.update(block)
                    out.write(block)
            return digest.hexdigest()
        except OSError as exc:
            if attempt == 4:
                raise ContentsError(f"could not fetch {url}: {exc}") from None
            say(f"fetching {url} failed ({exc}); again in {2**attempt} s")
            time.sleep(2**attempt)
            digest = hashlib.sha256()
    raise AssertionError("unreachable")


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    with gzip.GzipFile(fileobj=handle) as unpacked:  # multi-member gzip is read whole
        yield from unpacked


def _index_contents(
    archive: Path,
    package_ids: dict[str, int],
    rows: list[tuple[str, str, str, int]],
    counts: dict[str, int],
) -> None:
    """Every package a Contents file names gets an id; the files repairs look up (headers,
    libraries, tools, pkg-config and CMake files) become rows, counted by kind."""
    with archive.open("rb") as handle:
        for line in _lines(handle):
            parsed = parse_line(line)
            if parsed is None:
                continue
            path, packages = parsed
            for package in packages:
                if package not in package_ids:
                    package_ids[package] = len(package_ids) + 1
            if not path.startswith(_PREFIXES):
                continue
            kept = classify(path)
            if kept is None:
                continue
            kind, key = kept
            counts[kind] = counts.get(kind, 0) + 1
            text = path.decode("utf-8", "replace")
            rows.extend((kind, key, text, package_ids[p]) for p in packages)


def build_index(
    mirror: str,
    suite: str,
    arch: str,
    destination: Path,
    *,
    component: str = "main",
    say: Callable[[str], None] = lambda message: None,
) -> dict[str, int]:
    """Fetch ``Contents-<arch>`` and ``Contents-all`` of ``suite`` and write the index to
    ``destination`` (replaced atomically). Returns counts per kind."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        database = Path(scratch) / "index.sqlite3"
        connection = sqlite3.connect(database)
        connection.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE package (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE file (kind TEXT NOT NULL, key TEXT NOT NULL, path TEXT NOT NULL,
                               package INTEGER NOT NULL REFERENCES package (id));
            CREATE TABLE source (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )
        package_ids: dict[str, int] = {}
        rows: list[tuple[str, str, str, int]] = []
        for flavour in (arch, "all"):
            url = f"{mirror.rstrip('/')}/dists/{suite}/{component}/Contents-{flavour}.gz"
            archive = Path(scratch) / f"Contents-{flavour}.gz"
            sha256 = _download(url, archive, say)
            connection.execute("INSERT INTO source VALUES (?, ?)", (url, sha256))
            say(f"indexing Contents-{flavour}")
            _index_contents(archive, package_ids, rows, counts)
            archive.unlink()
        connection.executemany(
            "INSERT INTO package VALUES (?, ?)", ((i, n) for n, i in package_ids.items())
        )
        connection.executemany("INSERT INTO file VALUES (?, ?, ?, ?)", rows)
        connection.execute("CREATE INDEX file_lookup ON file (kind, key)")
        built_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        connection.executemany(
            "INSERT INTO source VALUES (?, ?)",
            [("suite", suite), ("arch", arch), ("built_at", built_at)],
        )
        connection.commit()
        connection.execute("VACUUM")
        connection.close()
        os.replace(database, destination)
    counts["packages"] = len(package_ids)
    return counts


class ContentsIndex:
    """Read-only lookups in an index ``build_index`` wrote."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise ContentsError(f"no Contents index at {path}")
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def close(self) -> None:
        self._db.close()

    def _find(self, kind: str, key: str) -> list[FileHit]:
        rows = self._db.execute(
            "SELECT file.path, package.name FROM file JOIN package ON package.id = file.package "
            "WHERE file.kind = ? AND file.key = ? ORDER BY file.path, package.name",
            (kind, key),
        )
        return [FileHit(path, package) for path, package in rows]

    def header(self, header: str) -> list[FileHit]:
        """Files that are ``header`` (``foo/bar.h`` keeps its folder) under usr/include."""
        name = header.rsplit("/", 1)[-1]
        suffix = "/" + header.lstrip("/")
        return [hit for hit in self._find("include", name) if hit.path.endswith(suffix)]

    def pkgconfig(self, module: str) -> list[FileHit]:
        return self._find("pc", module)

    def library(self, name: str) -> list[FileHit]:
        return self._find("lib", name)

    def program(self, name: str) -> list[FileHit]:
        return self._find("bin", name)

    def cmake_package(self, name: str) -> list[FileHit]:
        return self._find("cmake", name.lower())

    def has_package(self, name: str) -> bool:
        row = self._db.execute("SELECT 1 FROM package WHERE name = ?", (name,)).fetchone()
        return row is not None

    def source(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT name, value FROM source"))
