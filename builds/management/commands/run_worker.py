"""A remote worker: plans and builds for a refinery it reaches only over HTTP.

Runs on a machine with no database access (a native s390x host, say): it reads the
runtime settings from ``/api/settings`` each pass (pool sizes), pops plan inputs and
build jobs, and reports everything back through the API with the worker token. The
same planning and build code runs as in the local cluster; only the queue is remote.
"""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.graceful_stop import GracefulStop
from builds.images import MACHINE_TO_DEBIAN
from builds.remote_queue import HttpBuildQueue
from builds.runners.base import Runner
from builds.runners.configured import runner_named
from builds.runners.podman import PodmanRunner
from builds.worker import drain
from plans.remote_planner import drain_plans
from refinery.lib.api_client import ApiClient, ApiError, ServerUnavailable
from refinery.lib.numbers import natural_number

_KNOWN_ARCHES = sorted(set(MACHINE_TO_DEBIAN) | {platform.machine()})


class Command(BaseCommand):
    help = (
        "Work for a refinery over its HTTP API only: pop plan inputs (--plans) and build "
        "jobs (--builds, the default), run them here, report back. Survives the server "
        "going away: calls are retried with backoff and the lease decides who owns a job."
    )
    # Nothing here may touch a database: not even the system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--api", required=True, help="the refinery's base URL")
        parser.add_argument(
            "--token", default=None, help="the worker token (default: WORKER_TOKEN)"
        )
        parser.add_argument("--plans", action="store_true", help="plan inputs")
        parser.add_argument("--builds", action="store_true", help="build jobs (the default)")
        parser.add_argument(
            "--runner",
            choices=["auto", "local", "podman"],
            default=None,
            help="default: RUNNER (auto: podman when its builder image is here)",
        )
        parser.add_argument(
            "--arch",
            action="append",
            choices=_KNOWN_ARCHES,
            help="claim builds for this architecture (repeatable; default: what the runner "
            "has images for, or this machine's for the local runner)",
        )
        parser.add_argument("--worker-id", default=None, help="default: run-worker:HOST:PID")
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--poll", default="5", help="seconds between passes when idle")
        parser.add_argument("--grace", default="60", help="seconds running builds may finish in")

    def handle(self, *args: Any, **options: Any) -> None:
        api = options["api"]
        parts = urlsplit(api)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"--api {api!r} is not an http(s) URL")
        token = options["token"] or settings.WORKER_TOKEN
        if not token:
            raise CommandError("no worker token: pass --token or set WORKER_TOKEN")
        for name in ("poll", "grace"):
            if natural_number(str(options[name])) is None:
                raise CommandError(f"--{name} {options[name]!r} is not a number of seconds")
        worker_id = options["worker_id"] or f"run-worker:{socket.gethostname()}:{os.getpid()}"
        if not 1 <= len(worker_id) <= 200:
            raise CommandError("--worker-id must be 1 to 200 characters")
        plans = options["plans"]
        builds = options["builds"] or not plans
        runner = runner_named(options["runner"] or settings.RUNNER) if builds else None
        arches = options["arch"] or (self._arches(runner) if runner is not None else [])
        if builds and not arches:
            raise CommandError(
                "the podman runner has no builder image here: run manage.py build_image, "
                "or name --arch"
            )

        with GracefulStop(int(options["grace"]), self.stderr.write).installed() as shutdown:
            client = ApiClient(api, token)
            self.stdout.write(
                f"worker {worker_id} for {api}: "
                + ", ".join(
                    what
                    for what, on in (("plans", plans), (f"builds for {', '.join(arches)}", builds))
                    if on
                )
            )
            try:
                while not shutdown.stopping.is_set():
                    worked = self._pass(client, worker_id, plans, runner, arches, shutdown)
                    if options["once"]:
                        return
                    if not worked:
                        shutdown.stopping.wait(int(options["poll"]))
            finally:
                client.close()

    @staticmethod
    def _arches(runner: Runner) -> list[str]:
        if isinstance(runner, PodmanRunner):
            runner.images_recorded = False
            return runner.arches_in_podman()
        return [platform.machine()]

    def _pass(
        self,
        client: ApiClient,
        worker_id: str,
        plans: bool,
        runner: Runner | None,
        arches: list[str],
        shutdown: GracefulStop,
    ) -> int:
        """One round of planning and building; returns how much was done."""
        try:
            values = client.call(
                "GET", "/api/settings", give_up_after=30, cancel=shutdown.stopping
            ).json()["values"]
        except (ServerUnavailable, ApiError) as exc:
            later = "" if shutdown.stopping.is_set() else "; trying again later"
            self.stderr.write(f"the refinery is not answering ({exc}){later}")
            return 0
        done = 0
        if plans:
            try:
                done += drain_plans(
                    client,
                    worker_id,
                    Path(settings.INDEX_CACHE_DIR),
                    pool_size=lambda: int(values["plan_pool_size"]),
                    ttl=settings.INDEX_CACHE_TTL_SEC,
                    say=self.stdout.write,
                    once=True,
                )
            except (ServerUnavailable, ApiError) as exc:
                self.stderr.write(f"planning paused: {exc}")
        if runner is not None and not shutdown.stopping.is_set():
            queue = HttpBuildQueue(client, worker_id, arches=arches)
            done += drain(
                queue,
                runner,
                worker_id,
                pool_size=int(values["build_pool_size"]),
                stop=shutdown.stop,
                stopping=shutdown.stopping,
                progress=self.stdout.write,
            )
        return done
