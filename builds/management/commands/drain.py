from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.graceful_stop import GracefulStop
from builds.orphans import stop_leftovers
from builds.queue import reclaim_from_dead_workers
from builds.runners.configured import buildable_arches, runner_named
from builds.worker import LocalBuildQueue, drain
from refinery import runtime_settings
from refinery.lib.numbers import natural_number
from refinery.lib.worker_ids import local_worker_id


class Command(BaseCommand):
    help = (
        "Build due jobs in the foreground: claim up to BUILD_POOL_SIZE at a time until none "
        "is due. On Ctrl-C or SIGTERM it claims nothing more, lets running builds finish for "
        "--grace seconds (a second signal: none), then stops them and gives their jobs back."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one claim round, then exit")
        parser.add_argument("--max", dest="max_jobs", default=None, help="stop after N jobs")
        parser.add_argument(
            "--runner",
            choices=["auto", "local", "podman"],
            default=None,
            help="default: RUNNER (auto: podman when its builder image is here)",
        )
        parser.add_argument("--grace", default="60", help="seconds running builds may finish in")

    def handle(self, *args: Any, **options: Any) -> None:
        max_jobs = options["max_jobs"]
        if max_jobs is not None and (natural_number(str(max_jobs)) is None or int(max_jobs) < 1):
            raise CommandError(f"--max {max_jobs!r} is not a positive integer")
        grace = options["grace"]
        if natural_number(str(grace)) is None:
            raise CommandError(f"--grace {grace!r} is not a number of seconds")
        with GracefulStop(int(grace), self.stderr.write).installed() as shutdown:
            runner = runner_named(options["runner"] or settings.RUNNER)
            worker_id = local_worker_id("drain")
            # Without a cluster nobody else notices: a worker of this host killed mid-build
            # (a drain, a refine) left its jobs leased to a dead process, and their leftovers.
            reclaim_from_dead_workers(leftovers=stop_leftovers)
            count = drain(
                LocalBuildQueue(arches=buildable_arches(runner)),
                runner,
                worker_id,
                pool_size=runtime_settings.value("build_pool_size"),
                max_jobs=int(max_jobs) if max_jobs else None,
                once=options["once"],
                stop=shutdown.stop,
                stopping=shutdown.stopping,
                progress=self.stdout.write,
            )
        self.stdout.write(f"{count} job(s) processed")
