"""Run the refinery in the foreground: the ASGI server (HTTP + WebSocket) and a django-q2
cluster."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from refinery.lib.numbers import natural_number
from refinery.lib.shutdown import announce_shutdown, clear_shutdown

_GRACE_SECONDS = 30


class Command(BaseCommand):
    help = "Serve the web app (uvicorn or daphne) and run the task cluster beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--no-cluster", action="store_true", help="web server only")
        parser.add_argument(
            "--server",
            choices=("uvicorn", "daphne"),
            default="uvicorn",
            help="ASGI server (uvicorn with uvloop serves the index several times faster)",
        )
        parser.add_argument(
            "--workers",
            default="1",
            help="uvicorn web processes (one per core serves the index faster; bench/index.py)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        if natural_number(port) is None or not 0 < int(port) < 65536:
            raise CommandError(f"--port {port!r} is not a TCP port number")
        workers = options["workers"]
        if natural_number(workers) is None or not 0 < int(workers) <= 64:
            raise CommandError(f"--workers {workers!r} is not a number from 1 to 64")
        if options["server"] == "daphne" and workers != "1":
            raise CommandError("--workers needs --server uvicorn (daphne runs one process)")
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        web = _web_server(options["server"], options["host"], port, int(workers))
        commands = {"web": web}
        if not options["no_cluster"]:
            commands["cluster"] = [sys.executable, manage, "qcluster"]
        environment = _children_environment(options["host"], port)
        # Each child leads a process group of its own, so that a cluster that died leaves
        # no orphaned worker processes behind to go on taking tasks beside its successor.
        clear_shutdown()
        children = {
            name: subprocess.Popen(argv, env=environment, start_new_session=True)
            for name, argv in commands.items()
        }
        self.stdout.write(f"refinery on http://{options['host']}:{port}/ (admin at /admin/)")

        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exited: tuple[str, int] | None = None
        restarts = _Restarts()
        while not stopping and exited is None:
            for name, child in list(children.items()):
                code = child.poll()
                if code is None:
                    continue
                if name != "cluster":
                    exited = (name, code)  # without the web server there is nothing to serve
                    break
                # The cluster died (killed, out of memory): the index and the API keep
                # serving while it comes back; its lost builds are reclaimed when it does.
                _kill_group(child)
                wait = restarts.next_wait()
                self.stderr.write(
                    f"cluster exited with status {code}; restarting it in {wait:.0f} s"
                )
                if _sleep_unless(lambda: stopping, wait):
                    break
                children[name] = subprocess.Popen(
                    commands[name], env=environment, start_new_session=True
                )
            time.sleep(0.2)
        _stop_children(list(children.values()))
        if exited is not None and not stopping:
            raise CommandError(f"{exited[0]} exited with status {exited[1]}; stopped the rest")


def _children_environment(host: str, port: str) -> dict[str, str]:
    """Ours, with where clients reach us unless the deployment says otherwise (a proxy,
    TLS): the address served here, so links and install lines name the right port."""
    environment = dict(os.environ)
    if not environment.get("PUBLIC_URL"):
        environment["PUBLIC_URL"] = f"http://{_url_host(host)}:{port}"
    environment["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir(environment))
    return environment


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each, then what is left of them after the grace period killed. Running
    builds are handed back within SHUTDOWN_GRACE_SEC (the drains read the announcement), so
    that q2's graceful stop, which waits for running tasks, ends in time."""
    announce_shutdown()
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_SECONDS
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        _kill_group(child)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=5)


class _Restarts:
    """Backoff between restarts of a child that keeps dying: 1 s, doubling to 60 s, back to
    1 s once it has stayed up for ten minutes."""

    def __init__(self) -> None:
        self.wait = 0.5
        self.last = 0.0

    def next_wait(self) -> float:
        now = time.monotonic()
        self.wait = 1.0 if now - self.last > 600 else min(60.0, self.wait * 2)
        self.last = now
        return self.wait


def _sleep_unless(stopping: Callable[[], bool], seconds: float) -> bool:
    """Sleep ``seconds`` in small steps; True if asked to stop meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stopping():
            return True
        time.sleep(0.2)
    return stopping()


def _metrics_dir(environment: dict[str, str]) -> Path:
    """Where the children write their counters for /metrics to add up. A given directory
    may be shared with processes outside this command (another container's cluster), so it
    is left as it is; our own, under var/, starts empty, as the counters of a restart do."""
    given = environment.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        return Path(given)
    directory = Path(settings.VAR_DIR) / "metrics"
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


def _web_server(server: str, host: str, port: str, workers: int) -> list[str]:
    if server == "daphne":
        return [sys.executable, "-m", "daphne", "-b", host, "-p", port, "refinery.asgi:application"]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--host",
        host,
        "--port",
        port,
        "--loop",
        "uvloop",
        "--http",
        # httptools, with repeats of published index pages answered as they are parsed
        "builds.index.http_protocol:IndexHttpToolsProtocol",
        "--lifespan",
        "off",
        "--no-access-log",
        "--proxy-headers",
        *(["--workers", str(workers)] if workers > 1 else []),
        "refinery.asgi:application",
    ]


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"  # listening everywhere: this machine's own address works locally
    return f"[{host}]" if ":" in host else host
