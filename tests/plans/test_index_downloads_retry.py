"""Downloads from the index are retried as page requests are: a 5xx or 429 gets another try
with the one backoff policy, a 404 does not, and a download never leaves a partial file."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from plans.index_client import IndexClient, IndexFetchError
from plans.project_pages import DistFile, parse_version
from tests.plans.dist_files import dist_file

BODY = b"not really a wheel, but bytes with a known hash\n" * 100


class FlakyFiles(http.server.BaseHTTPRequestHandler):
    """Answers /<status>/<n>/file: ``status`` for the first ``n`` requests, then the file."""

    hits: dict[str, int] = {}

    def do_GET(self) -> None:
        _, status, failures, _ = self.path.split("/", 3)
        seen = self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if seen <= int(failures):
            self.send_response(int(status))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def files() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyFiles)
    FlakyFiles.hits = {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _dist(url: str) -> DistFile:
    return dist_file("demo-1.0-py3-none-any.whl", url, BODY)


def test_a_download_that_meets_503s_is_tried_again_and_arrives(files, tmp_path: Path):
    url = f"{files}/503/2/demo-1.0-py3-none-any.whl"
    with IndexClient([files], tmp_path, retries=3) as client:
        path = client.download(_dist(url))

    assert path.read_bytes() == BODY
    assert FlakyFiles.hits[url.removeprefix(files)] == 3
    assert not list(tmp_path.rglob("*.part"))


def test_a_download_that_keeps_failing_says_so_after_its_tries(files, tmp_path: Path):
    url = f"{files}/502/9/demo-1.0-py3-none-any.whl"
    with (
        IndexClient([files], tmp_path, retries=2) as client,
        pytest.raises(IndexFetchError, match=r"HTTP 502 after 3 tries"),
    ):
        client.download(_dist(url))
    assert FlakyFiles.hits[url.removeprefix(files)] == 3
    assert not list(tmp_path.rglob("*.part"))


def test_a_missing_file_is_not_asked_for_again(files, tmp_path: Path):
    url = f"{files}/404/9/demo-1.0-py3-none-any.whl"
    with (
        IndexClient([files], tmp_path, retries=3) as client,
        pytest.raises(IndexFetchError, match=r"HTTP 404$"),
    ):
        client.download(_dist(url))
    assert FlakyFiles.hits[url.removeprefix(files)] == 1


def test_the_version_cache_of_a_long_lived_worker_is_bounded():
    assert parse_version.cache_info().maxsize is not None
