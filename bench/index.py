#!/usr/bin/env python
"""Index speed: /simple/<project>/ requests/s and latency, ours beside nginx and pypiserver.

300 projects x 10 wheels (3,000 files) go into our store and, as the same files, into a
directory pypiserver serves in its fastest configuration (``--server gunicorn --backend
cached-dir``). wrk (2 threads, 16 connections, loopback) asks each server for random project
pages, in one run:

- nginx serving our pre-rendered JSON pages as plain static files (the ceiling);
- pypiserver (HTML: it has no JSON);
- ours in-process (``manage.py serve``: uvicorn, whose protocol answers repeats of pages
  the index fast path has kept), one process and two, as pip asks (PEP 691 JSON) and as a
  browser or old client does (HTML);
- ours behind the production front (``manage.py front_config``: nginx serving the page
  store with the app's negotiation, everything else proxied to the app).

Usage: bench/index.py [--seconds 10] [--rounds 1]   (needs wrk and nginx-light from apt)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch_django import ROOT, setup

# Counters kept as the served processes keep them (one shared file per process), for the
# fast path measured alone below; the servers are given the same folder.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-index-metrics-")
os.environ["PYTHON_VERSION"] = "3.11"
os.environ["PLATFORM_TAG"] = "manylinux_2_17_x86_64"
SCRATCH = setup("bench-index-")

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from builds.artifacts import cas_key  # noqa: E402
from builds.index.publishing import rebuild_all  # noqa: E402
from builds.models import Artifact  # noqa: E402
from plans.models import Target  # noqa: E402

PROJECTS = 300
VERSIONS = 5
TAGS = ("py3-none-any", "cp311-cp311-manylinux_2_17_x86_64")  # 5 versions x 2 = 10 files
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
WRK_SCRIPT = """
math.randomseed(os.time())
request = function()
  return wrk.format(nil, string.format("/simple/proj-%03d/", math.random(0, {last})))
end
"""


def wheel_bytes(name: str, version: str, tag: str) -> tuple[bytes, str]:
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: >=3.8\n"
    files = {
        f"{name.replace('-', '_')}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()
    )
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    path = SCRATCH / "tmp.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(zipfile.ZipInfo(member, (2024, 1, 1, 0, 0, 0)), data)
    return path.read_bytes(), metadata


def populate(files_dir: Path) -> None:
    """The same 3,000 wheels in our store (rows + CAS files) and in pypiserver's folder."""
    call_command("migrate", verbosity=0)
    target, _ = Target.objects.get_or_create(
        python_version="3.11", platform_tag="manylinux_2_17_x86_64"
    )
    storage = SCRATCH / "storage"
    rows = []
    for number in range(PROJECTS):
        name = f"proj-{number:03d}"
        for minor in range(VERSIONS):
            version = f"1.{minor}"
            for tag in TAGS:
                data, metadata = wheel_bytes(name, version, tag)
                filename = f"{name.replace('-', '_')}-{version}-{tag}.whl"
                (files_dir / filename).write_bytes(data)
                sha256 = hashlib.sha256(data).hexdigest()
                stored = storage / cas_key(sha256)
                stored.parent.mkdir(parents=True, exist_ok=True)
                stored.write_bytes(data)
                rows.append(
                    Artifact(
                        target=target,
                        origin=Artifact.Origin.UPLOADED,
                        name=name,
                        version=version,
                        filename=filename,
                        sha256=sha256,
                        size=len(data),
                        tags=[tag],
                        core_metadata=metadata,
                        metadata_sha256=hashlib.sha256(metadata.encode()).hexdigest(),
                        requires_python=">=3.8",
                        storage_key=cas_key(sha256),
                        uploaded_at=timezone.now(),
                    )
                )
    Artifact.objects.bulk_create(rows, batch_size=500)
    started = time.perf_counter()
    pages = rebuild_all()
    print(
        f"store: {len(rows)} files, {pages} project pages rendered in "
        f"{time.perf_counter() - started:.1f} s"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}: {url}")
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"server did not come up: {url}")


def warm(base: str, headers: dict[str, str]) -> None:
    with httpx.Client(headers=headers, timeout=30) as client:
        for number in range(PROJECTS):
            response = client.get(f"{base}/simple/proj-{number:03d}/")
            response.raise_for_status()


def wrk(base: str, accept: str, seconds: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c16",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            "-H",
            f"Accept: {accept}",
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}  # type: ignore[index]
    for percentile in ("50", "99"):
        value, unit = re.search(rf"\s{percentile}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        figures[f"p{percentile}"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{base}: {errors[1]} error responses\n{out}")
    return figures


NGINX_STATIC = """
worker_processes {workers};
{user}pid {scratch}/nginx-{name}.pid;
error_log {scratch}/nginx-{name}.log warn;
events {{}}
http {{
    access_log off;
{temps}
{body}
}}
"""
# The peer: the same pre-rendered JSON pages as plain static files, nothing negotiated.
STATIC_SITE = """
    server {{
        listen {port};
        root {pages}/{slug};
        default_type application/vnd.pypi.simple.v1+json;
        location ~ ^/simple/(?<project>[a-z0-9-]+)/$ {{ try_files /$project.json =404; }}
    }}
"""


def start_nginx(name: str, body: str, port: int) -> subprocess.Popen[bytes]:
    temps = "".join(
        f"    {kind}_temp_path {SCRATCH}/nginx-{name}-{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = SCRATCH / f"nginx-{name}.conf"
    conf.write_text(
        NGINX_STATIC.format(
            workers=os.cpu_count() or 1,
            user="user root;\n" if os.geteuid() == 0 else "",
            scratch=SCRATCH,
            name=name,
            temps=temps,
            body=body,
        )
    )
    return subprocess.Popen(
        ["nginx", "-p", str(SCRATCH), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


SERVE = [sys.executable, "manage.py", "serve", "--no-cluster"]


def start_ours(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*SERVE, "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_pypiserver(port: int, files_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "pypi-server"),
            "run",
            "-p",
            str(port),
            "-i",
            "127.0.0.1",
            "--server",
            "gunicorn",
            "--backend",
            "cached-dir",
            "-a",
            ".",
            "-P",
            ".",
            str(files_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def fast_path_cost(hits: int = 20_000) -> float:
    """Microseconds per page hit in our ASGI app called directly (no server, no socket): the
    part of a request that is ours, measured alone."""
    import asyncio

    from refinery.asgi import application

    headers = [(b"host", b"127.0.0.1"), (b"accept", PIP_ACCEPT.encode())]
    scopes = [
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "path": f"/simple/proj-{number % PROJECTS:03d}/",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        for number in range(hits)
    ]

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: object) -> None:
        pass

    async def serve_all() -> float:
        for scope in scopes[:2000]:  # every page's answer made and kept first
            await application(dict(scope), receive, send)
        started = time.perf_counter()
        for scope in scopes:
            await application(scope, receive, send)
        return time.perf_counter() - started

    return asyncio.run(serve_all()) / hits * 1e6


def lane_cost(hits: int = 20_000) -> float:
    """Microseconds per repeated page request fed to the server's protocol on one kept-alive
    connection (parsing and a loop turn included, no socket), after ``fast_path_cost`` has
    kept the answers. Fails unless the lane answered every one itself."""
    import asyncio

    import uvloop
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from builds.index.http_protocol import IndexHttpToolsProtocol
    from refinery.asgi import application

    class Sink(asyncio.Transport):  # the client's side: takes what is written
        written = 0

        def write(self, data: bytes | bytearray | memoryview) -> None:
            self.written += len(data)

        def get_extra_info(self, name: str, default: object = None) -> object:
            return ("127.0.0.1", 8000) if name in ("sockname", "peername") else default

        def is_closing(self) -> bool:
            return False

    requests = [
        f"GET /simple/proj-{number % PROJECTS:03d}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Accept: {PIP_ACCEPT}\r\n\r\n".encode()
        for number in range(hits)
    ]

    async def feed_all() -> float:
        config = Config(app=application, lifespan="off", access_log=False, proxy_headers=True)
        protocol = IndexHttpToolsProtocol(
            config, ServerState(), {}, _loop=asyncio.get_running_loop()
        )
        sink = Sink()
        protocol.connection_made(sink)
        started = time.perf_counter()
        for request in requests:
            protocol.data_received(request)
            await asyncio.sleep(0)  # a loop turn, as between requests in the server
        elapsed = time.perf_counter() - started
        if protocol.server_state.total_requests != hits:  # each answered by the lane itself
            raise SystemExit(f"the lane answered {protocol.server_state.total_requests} of {hits}")
        return elapsed

    return uvloop.run(feed_all()) / hits * 1e6  # the server's loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="each server this many times")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench/index.py needs {tool}: apt-get install wrk nginx-light")
    files_dir = SCRATCH / "pypiserver-files"
    files_dir.mkdir()
    populate(files_dir)
    script = SCRATCH / "pages.lua"
    script.write_text(WRK_SCRIPT.replace("{last}", str(PROJECTS - 1)))

    from django.conf import settings

    from builds.index.catalog import default_target
    from builds.index.front import FrontOptions, front_config

    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    ports = {name: free_port() for name in ("one", "two", "peer", "static", "front")}
    site = front_config(FrontOptions(f"127.0.0.1:{ports['two']}", str(ports["front"])))
    static_site = STATIC_SITE.format(
        port=ports["static"], pages=settings.INDEX_PAGES_DIR, slug=default_target().slug
    )
    servers = {
        "one": start_ours(ports["one"], 1, env),
        "two": start_ours(ports["two"], 2, env),
        "peer": start_pypiserver(ports["peer"], files_dir),
        "static": start_nginx("static", static_site, ports["static"]),
        "front": start_nginx("front", site, ports["front"]),
    }
    base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    runs = [
        ("nginx, static JSON files", "static", PIP_ACCEPT),
        ("pypiserver (html)", "peer", "text/html"),
        ("ours, 1 process (json)", "one", PIP_ACCEPT),
        ("ours, 1 process (html)", "one", "text/html"),
        ("ours, 2 processes (json)", "two", PIP_ACCEPT),
        ("ours, nginx front (json)", "front", PIP_ACCEPT),
        ("ours, nginx front (html)", "front", "text/html"),
    ]
    rounds: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in runs}
    try:
        for name in servers:
            wait_for(f"{base[name]}/simple/proj-000/", servers[name], {"Accept": PIP_ACCEPT})
        for _, name, accept in runs:
            warm(base[name], {"Accept": accept})
        # Every server once per round, in turn: the machine's drift falls on all of them.
        for _ in range(args.rounds):
            for label, name, accept in runs:
                rounds[label].append(wrk(base[name], accept, args.seconds, script))
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(timeout=30)
    results = {
        label: {key: statistics.median(f[key] for f in figures) for key in figures[0]}
        for label, figures in rounds.items()
    }
    nginx_rps = results["nginx, static JSON files"]["rps"]
    peer_rps = results["pypiserver (html)"]["rps"]
    print(
        f"{os.cpu_count()} cores; wrk -t2 -c16, {args.seconds} s each, random project pages; "
        f"medians of {args.rounds} round(s)"
    )
    columns = ("req/s", 9), ("p50 ms", 8), ("p99 ms", 8), ("vs nginx", 9), ("vs pypiserver", 14)
    print(f"{'server':28} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for label, figures in results.items():
        print(
            f"{label:28} {figures['rps']:9.0f} {figures['p50']:8.2f} {figures['p99']:8.2f} "
            f"{figures['rps'] / nginx_rps:8.2f}x {figures['rps'] / peer_rps:13.2f}x"
        )
    print(f"our fast path alone (the ASGI app called directly): {fast_path_cost():.1f} us a hit")
    print(
        "the server's lane alone (its protocol fed requests on uvloop, a loop turn each): "
        f"{lane_cost():.1f} us a hit"
    )
    print("targets: in-process >= 0.5x nginx; the nginx front at nginx speed")


if __name__ == "__main__":
    main()
