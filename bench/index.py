#!/usr/bin/env python
"""Index speed: /simple/<project>/ requests/s and latency, ours beside pypiserver, same run.

300 projects x 10 wheels (3,000 files) go into our store and, as the same files, into a
directory pypiserver serves in its fastest configuration (``--server gunicorn --backend
cached-dir``). wrk (2 threads, 16 connections, loopback) asks each server for random project
pages: ours as pip asks (PEP 691 JSON) and as a browser or old client does (HTML), with
everything pypiserver's pages lack (JSON, PEP 658 metadata, upload times, yanks).
Usage: bench/index.py [--seconds 10]   (needs wrk: apt-get install wrk)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch_django import ROOT, setup

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/index.py needs wrk: apt-get install wrk")
    files_dir = SCRATCH / "pypiserver-files"
    files_dir.mkdir()
    populate(files_dir)
    script = SCRATCH / "pages.lua"
    script.write_text(WRK_SCRIPT.replace("{last}", str(PROJECTS - 1)))

    ours_port, peer_port = free_port(), free_port()
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    ours = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-cluster", "--port", str(ours_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peer = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "pypi-server"),
            "run",
            "-p",
            str(peer_port),
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
    results: dict[str, dict[str, float]] = {}
    try:
        ours_base, peer_base = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{peer_port}"
        wait_for(f"{ours_base}/simple/proj-000/", ours, {"Accept": PIP_ACCEPT})
        wait_for(f"{peer_base}/simple/proj-000/", peer, {})
        for base, accept in (
            (ours_base, PIP_ACCEPT),
            (ours_base, "text/html"),
            (peer_base, "text/html"),
        ):
            warm(base, {"Accept": accept})
        results["pypiserver (html)"] = wrk(peer_base, "text/html", args.seconds, script)
        results["ours (json, pip's Accept)"] = wrk(ours_base, PIP_ACCEPT, args.seconds, script)
        results["ours (html)"] = wrk(ours_base, "text/html", args.seconds, script)
    finally:
        for process in (ours, peer):
            process.terminate()
            process.wait(timeout=30)
    peer_rps = results["pypiserver (html)"]["rps"]
    print(f"{'server':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs pypiserver':>14}")
    for label, figures in results.items():
        print(
            f"{label:28} {figures['rps']:9.0f} {figures['p50']:8.2f} {figures['p99']:8.2f} "
            f"{figures['rps'] / peer_rps:13.2f}x"
        )
    print("target: >= 2.00x pypiserver's requests/s, p99 <= 50 ms")


if __name__ == "__main__":
    main()
