"""Run the refinery in the foreground: the ASGI server (HTTP + WebSocket) and a django-q2
cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

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

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise CommandError(f"--port {port!r} is not a TCP port number")
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        commands = {"web": _web_server(options["server"], options["host"], port)}
        if not options["no_cluster"]:
            commands["cluster"] = [sys.executable, manage, "qcluster"]
        # Where clients reach us, unless the deployment says otherwise (a proxy, TLS): the
        # address served here, so links and install lines name the right port.
        environment = dict(os.environ)
        if not environment.get("PUBLIC_URL"):
            environment["PUBLIC_URL"] = f"http://{_url_host(options['host'])}:{port}"
        environment["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir(environment))
        children = {
            name: subprocess.Popen(argv, env=environment) for name, argv in commands.items()
        }
        self.stdout.write(f"refinery on http://{options['host']}:{port}/ (admin at /admin/)")

        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exited: tuple[str, int] | None = None
        while not stopping and exited is None:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    exited = (name, code)
                    break
            time.sleep(0.2)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)  # q2 finishes running tasks on SIGTERM.
        deadline = time.monotonic() + _GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if exited is not None and not stopping:
            raise CommandError(f"{exited[0]} exited with status {exited[1]}; stopped the rest")


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


def _web_server(server: str, host: str, port: str) -> list[str]:
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
        "httptools",
        "--lifespan",
        "off",
        "--no-access-log",
        "--proxy-headers",
        "refinery.asgi:application",
    ]


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"  # listening everywhere: this machine's own address works locally
    return f"[{host}]" if ":" in host else host
