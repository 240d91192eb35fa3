"""An sdist's build requirements are read while it downloads, yet stand only once the whole
file matched the index's sha256; a download cut short is fetched again, and the sdist
itself is not kept on disk (only what was read from it)."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from plans.index_client import HashMismatch, IndexClient
from plans.metadata import MetadataError, sdist_build_requires
from plans.project_pages import DistFile
from tests.plans.dist_files import dist_file
from tests.sdists import make_sdist

PYPROJECT = b'[build-system]\nrequires = ["meson-python>=0.15", "cython>=3"]\n'


def _sdist_bytes(directory: Path) -> bytes:
    # pyproject.toml first, then a megabyte and a half the reader never needs to unpack.
    files = {"demo-1.0/pyproject.toml": PYPROJECT}
    files |= {f"demo-1.0/data/blob{i}.bin": os.urandom(300_000) for i in range(5)}
    return make_sdist(directory, "demo-1.0.tar.gz", files).read_bytes()


class Files(http.server.BaseHTTPRequestHandler):
    """/<mode>/<file>: ``cut`` breaks off the first answer halfway, ``ok`` sends it all."""

    body = b""
    hits: dict[str, int] = {}

    def do_GET(self) -> None:
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if self.path.startswith("/cut/") and self.hits[self.path] == 1:
            self.wfile.write(self.body[: len(self.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def files(tmp_path: Path) -> Iterator[str]:
    Files.body, Files.hits = _sdist_bytes(tmp_path), {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _sdist(url: str, sha256: str | None = None) -> DistFile:
    return dist_file("demo-1.0.tar.gz", url, Files.body, sha256)


def test_build_requirements_are_read_without_keeping_the_sdist(files, tmp_path: Path):
    cache = tmp_path / "cache"
    with IndexClient([files], cache) as client:
        declared = sdist_build_requires(client, _sdist(f"{files}/ok/demo-1.0.tar.gz"))

    assert [str(r) for r in declared] == ["meson-python>=0.15", "cython>=3"]
    assert Files.hits == {"/ok/demo-1.0.tar.gz": 1}
    assert list(cache.rglob("*.build-requires.json"))  # a re-plan reads no sdist at all
    assert not [p for p in cache.rglob("*") if p.is_file() and "demo-1.0.tar.gz" in p.name]


def test_what_was_read_is_refused_when_the_whole_file_does_not_match_its_hash(
    files, tmp_path: Path
):
    sdist = _sdist(f"{files}/ok/demo-1.0.tar.gz", sha256="0" * 64)
    with (
        IndexClient([files], tmp_path / "cache") as client,
        pytest.raises(HashMismatch, match=r"demo-1\.0\.tar\.gz: sha256 .* does not match"),
    ):
        sdist_build_requires(client, sdist)
    assert not list((tmp_path / "cache").rglob("*.build-requires.json"))


def test_a_download_cut_short_is_fetched_again(files, tmp_path: Path):
    with IndexClient([files], tmp_path / "cache", retries=2) as client:
        declared = sdist_build_requires(client, _sdist(f"{files}/cut/demo-1.0.tar.gz"))

    assert [r.name for r in declared] == ["meson-python", "cython"]
    assert Files.hits == {"/cut/demo-1.0.tar.gz": 2}


def test_a_damaged_archive_with_the_right_hash_says_the_archive_is_damaged(files, tmp_path: Path):
    Files.body = b"\x1f\x8b\x08\x00" + bytes(2000)  # a gzip header, then nothing sound
    with (
        IndexClient([files], tmp_path / "cache") as client,
        pytest.raises(MetadataError, match=r"demo-1\.0\.tar\.gz: not a readable sdist archive"),
    ):
        sdist_build_requires(client, _sdist(f"{files}/ok/demo-1.0.tar.gz"))


def test_a_kept_read_that_was_cut_short_is_read_again_not_trusted(files, tmp_path: Path):
    cache = tmp_path / "cache"
    sdist = _sdist(f"{files}/ok/demo-1.0.tar.gz")
    with IndexClient([files], cache) as client:
        sdist_build_requires(client, sdist)
    (kept,) = cache.rglob("*.build-requires.json")
    kept.write_bytes(kept.read_bytes()[:10])  # as if its writer had been stopped halfway

    with IndexClient([files], cache) as client:
        declared = sdist_build_requires(client, sdist)

    assert [str(r) for r in declared] == ["meson-python>=0.15", "cython>=3"]
    assert Files.hits == {"/ok/demo-1.0.tar.gz": 2}
