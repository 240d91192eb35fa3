"""Fixtures for build tests: plans whose nodes are real sdists on PyPI."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from builds.images import image_exists, image_name
from builds.models import BuilderImage
from builds.plan_builds import enqueue_plan_builds
from plans.index_client import IndexClient
from tests.factories import PlanFactory, TargetFactory


def _sdist_node(client: IndexClient, name: str, filename: str) -> dict[str, Any]:
    """A node built from ``filename``, or reused when ``filename`` is an upstream wheel."""
    dist = next(f for f in client.project(name).files if f.filename == filename)
    reuse = filename.endswith(".whl")
    return {
        "name": name,
        "version": str(dist.version),
        "action": "reuse" if reuse else "build",
        "source": {"kind": "wheel" if reuse else "sdist", **dist.as_source()},
        "roles": ["runtime"],
    }


@pytest.fixture
def plan_of(tmp_path):
    def make(*sdists: tuple[str, str], target_platform: str = "manylinux_2_17_x86_64"):
        with IndexClient(["https://pypi.org/simple/"], tmp_path / "index") as client:
            nodes = [_sdist_node(client, name, filename) for name, filename in sdists]
        target = TargetFactory(platform_tag=target_platform)
        plan = PlanFactory(target=target, dag={"nodes": nodes, "edges": []})
        enqueue_plan_builds(plan, actor="test")
        return plan

    return make


AMD64 = image_name("debian-bookworm", "amd64")


@pytest.fixture
def amd64_image(db):
    """The amd64 builder image `make images` made, recorded as `build_image` records it."""
    assert image_exists(AMD64), (
        f"{AMD64} is missing: run `make images` (manage.py build_image --arch amd64)"
    )
    BuilderImage.objects.update_or_create(
        preset="debian-bookworm", arch="amd64", defaults={"image": AMD64, "image_id": ""}
    )
    return AMD64


def host_address() -> str:
    """This machine's address on its network: what a build container reaches. Builds are
    refused the host's loopback, so sdists a test serves must listen here."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # a UDP "connect" only picks the route; nothing is sent
        address = str(probe.getsockname()[0])
    if address.startswith("127."):
        pytest.skip("this machine has no address but loopback for a container to reach")
    return address


@pytest.fixture
def serve_sdist(tmp_path: Path) -> Iterator[Callable[[Path], tuple[str, str]]]:
    """Serves files over HTTP on the host's own address; ``serve(path)`` copies the file in
    and answers its (url, sha256), as a plan's source records it."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    address = host_address()
    server = http.server.ThreadingHTTPServer((address, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(path: Path) -> tuple[str, str]:
        data = path.read_bytes()
        (root / path.name).write_bytes(data)
        url = f"http://{address}:{server.server_port}/{path.name}"
        return url, hashlib.sha256(data).hexdigest()

    yield serve
    server.shutdown()
    server.server_close()
