"""A small PEP 691 index on loopback, for what PyPI cannot show: projects whose metadata is
broken in ways a hostile or careless upstream could break it."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename


def _project(filename: str) -> str:
    if filename.endswith(".whl"):
        return parse_wheel_filename(filename)[0]
    return parse_sdist_filename(filename)[0]


def _metadata(path: Path) -> bytes | None:
    if not path.name.endswith(".whl"):
        return None  # sdists have no PEP 658 metadata: the planner reads their PKG-INFO
    with zipfile.ZipFile(path) as archive:
        (member,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return archive.read(member)


@contextmanager
def local_index(wheels: list[Path]) -> Iterator[str]:
    """Serves ``wheels`` (and sdists) as a PEP 691 index; yields its ``/simple/`` URL."""
    files = {wheel.name: wheel.read_bytes() for wheel in wheels}
    metadata = {wheel.name: _metadata(wheel) for wheel in wheels}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if parts[0] == "simple" and len(parts) == 2:
                entries = [
                    {
                        "filename": name,
                        "url": f"/files/{name}",
                        "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
                        **(
                            {"core-metadata": {"sha256": hashlib.sha256(known).hexdigest()}}
                            if (known := metadata[name]) is not None
                            else {}
                        ),
                    }
                    for name, data in files.items()
                    if _project(name) == canonicalize_name(parts[1])
                ]
                if not entries:
                    self.send_error(404)
                    return
                page = {"meta": {"api-version": "1.1"}, "name": parts[1], "files": entries}
                self._send(json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json")
            elif parts[0] == "files" and metadata.get(parts[1].removesuffix(".metadata")):
                self._send(metadata[parts[1].removesuffix(".metadata")] or b"", "text/plain")
            elif parts[0] == "files" and parts[1] in files:
                self._send(files[parts[1]], "application/octet-stream")
            else:
                self.send_error(404)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


class GatedIndex:
    """PyPI's project pages through a gate on loopback: a planner asking for one is held
    until the test opens the gate, so a test can act while a plan is in flight."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.gate = threading.Event()


@contextmanager
def gated_pypi() -> Iterator[tuple[str, GatedIndex]]:
    """Yields ``(simple URL, gates)``: pages come from PyPI's PEP 691 JSON once ``gate`` is
    set; ``asked`` is set by the first request. Files stay on PyPI's own file host."""
    import httpx

    gates = GatedIndex()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            gates.asked.set()
            gates.gate.wait(timeout=600)
            upstream = httpx.get(
                f"https://pypi.org{self.path}",
                headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                follow_redirects=True,
                timeout=60,
            )
            self.send_response(upstream.status_code)
            self.send_header("Content-Type", upstream.headers.get("content-type", "text/plain"))
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/", gates
    finally:
        gates.gate.set()
        server.shutdown()
        server.server_close()
