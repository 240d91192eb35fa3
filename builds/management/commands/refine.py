"""upload -> plan -> build -> publish, in the foreground, ending with the install line."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, TextIO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Min, Q

from builds.graceful_stop import GracefulStop
from builds.images import MACHINE_TO_DEBIAN
from builds.index.catalog import IndexTarget, default_target, parse_slug
from builds.lockfile import LockfileError, hashed_requirements
from builds.log_follow import PlanLogs
from builds.models import BuildJob
from builds.notifications.sender import send_all_due
from builds.orphans import stop_leftovers
from builds.plan_builds import enqueue_plan_builds
from builds.queue import reclaim_from_dead_workers
from builds.runners.configured import buildable_arches, runner_named
from builds.worker import LocalBuildQueue, drain
from inputs.command_options import add_plan_options
from inputs.models import PendingInput
from inputs.plan_queue import PlanQueueError
from inputs.services import (
    UploadError,
    UploadResult,
    read_requirements_path,
    upload_requirements,
)
from inputs.target_env import platform_arch
from plans.models import Plan
from plans.planner import PlanningFailed, plan_in_foreground
from refinery import runtime_settings
from refinery.lib.cli import table
from refinery.lib.numbers import natural_number
from refinery.lib.progress import ProgressLine
from refinery.lib.worker_ids import local_worker_id

_UNFINISHED = (
    BuildJob.Status.PENDING,
    BuildJob.Status.LEASED,
    BuildJob.Status.BUILDING,
    BuildJob.Status.RETRY,
)
_GOOD = (BuildJob.Status.BUILT, BuildJob.Status.REUSED, BuildJob.Status.CACHED)


class Command(BaseCommand):
    help = (
        "Refine a requirements file in the foreground: upload it, plan it for the target, "
        "build what has no wheel (retrying as the queue does), publish everything in the "
        "index and print the pip command that installs it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE")
        parser.add_argument(
            "--target",
            help="e.g. cp311-manylinux_2_17_s390x (default: PYTHON_VERSION and PLATFORM_TAG)",
        )
        add_plan_options(parser, overrides=False)
        parser.add_argument(
            "--runner",
            choices=["auto", "local", "podman"],
            default=None,
            help="default: RUNNER (auto: podman when its builder image is here)",
        )
        parser.add_argument(
            "--hashes", metavar="OUT", help="also write a hashed requirements file here"
        )
        parser.add_argument(
            "--follow", action="store_true", help="print the builds' log lines as they come"
        )
        parser.add_argument(
            "--timeout", default="7200", help="give up after this many seconds (default 7200)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        target = self._target(options["target"])
        deadline = time.monotonic() + self._timeout(options["timeout"])
        runner = runner_named(options["runner"] or settings.RUNNER)
        worker_id = local_worker_id("refine")

        uploaded = self._upload(path, target, options)
        self.stdout.write(f"1/4 upload: {uploaded.message}")

        plan = self._plan(uploaded.pending, worker_id)
        nodes = plan.nodes()
        to_build = sum(1 for node in nodes if node.get("action") == "build")
        self.stdout.write(
            f"2/4 plan {plan.pk}: {len(nodes)} nodes for {target.slug}, {to_build} to build"
        )
        if to_build:
            self._check_runner_builds_for(runner, target)
        summary = enqueue_plan_builds(plan, actor=worker_id)
        self.stdout.write(f"3/4 build: {summary}")
        follower = _Follower(plan.pk, self.stdout.write) if options["follow"] else None
        # The plan's builds, and those another plan had already queued (one job per wheel).
        jobs = [job.pk for job in (*summary.enqueued, *summary.already_queued)]
        # From here a Ctrl-C hands running builds back (as `manage.py drain` does) rather
        # than leaving them, and their containers, running behind an exited command.
        with GracefulStop(settings.SHUTDOWN_GRACE_SEC, self.stderr.write).installed() as shutdown:
            try:
                self._build(jobs, runner, worker_id, deadline, shutdown)
            finally:
                if follower is not None:
                    follower.finish()
                self._notify()
        if shutdown.stopping.is_set():
            self._fail_if_stopped_short(jobs)

        self._fail_unless_all_built(plan, jobs)
        if summary.unavailable:
            raise CommandError(f"could not fetch reused wheels: {summary.unavailable}")
        self._publish(plan, target, path, options["hashes"])

    def _timeout(self, timeout: Any) -> int:
        if natural_number(str(timeout)) is None or int(timeout) < 1:
            raise CommandError(f"--timeout {timeout!r} is not a positive number of seconds")
        return int(timeout)

    def _upload(self, path: Path, target: IndexTarget, options: dict[str, Any]) -> UploadResult:
        try:
            return upload_requirements(
                read_requirements_path(path),
                path.name,
                python_version=target.python_version,
                platform_tag=target.platform_tag,
                strategy=options["strategy"],
                no_binary=options["no_binary"],
                only_binary=options["only_binary"],
                auto_plan=False,
            )
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        except UploadError as exc:
            raise CommandError(str(exc)) from None

    def _check_runner_builds_for(self, runner: Any, target: IndexTarget) -> None:
        arch = platform_arch(target.platform_tag)
        if arch not in buildable_arches(runner):
            raise CommandError(
                f"the {runner.name} runner cannot build for {arch} here: run "
                f"`manage.py build_image --arch {MACHINE_TO_DEBIAN.get(arch, arch)}` "
                "(podman) or use a worker on that architecture"
            )

    def _fail_unless_all_built(self, plan: Plan, job_ids: list[int]) -> None:
        jobs = BuildJob.objects.filter(Q(plan=plan) | Q(pk__in=job_ids)).order_by("name")
        failed = [job for job in jobs if job.status not in _GOOD]
        if failed:
            rows = [[j.name, j.version, j.status, (j.error or "")[:80]] for j in failed]
            self.stdout.write(table(["name", "version", "status", "error"], rows))
            raise CommandError(
                f"{len(failed)} of {len(jobs)} builds did not succeed; what did is published"
            )

    def _publish(self, plan: Plan, target: IndexTarget, path: Path, hashes: str | None) -> None:
        index_url = _index_url(target)
        if hashes:
            try:
                Path(hashes).write_text(hashed_requirements(plan))
            except (OSError, LockfileError) as exc:
                raise CommandError(f"--hashes {hashes}: {exc}") from None
        self.stdout.write(f"4/4 published: {index_url}")
        self.stdout.write(f"pip install --index-url {index_url} --only-binary :all: -r {path}")
        if hashes:
            self.stdout.write(f"pip install --index-url {index_url} --require-hashes -r {hashes}")

    def _notify(self) -> None:
        """What this run caused is told before it exits (there is no cluster to tell it);
        a failure to tell never hides the run's own outcome."""
        try:
            told = send_all_due()
        except Exception as exc:
            self.stderr.write(f"notifications not sent: {type(exc).__name__}: {exc}")
            return
        if told:
            self.stdout.write(f"notifications: {told} delivery attempt(s) made")

    def _target(self, slug: str | None) -> IndexTarget:
        if slug is None:
            return default_target()
        target = parse_slug(slug)
        if target is None:
            raise CommandError(
                f"--target {slug!r} is not a target such as cp311-manylinux_2_17_s390x"
            )
        return target

    def _plan(self, pending: PendingInput, worker_id: str) -> Plan:
        progress = ProgressLine(cast(TextIO, self.stderr._out))
        try:
            return plan_in_foreground(pending, worker_id, progress=progress, auto_build=False)
        except (PlanQueueError, PlanningFailed) as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.done()

    def _build(
        self,
        job_ids: list[int],
        runner: Any,
        worker_id: str,
        deadline: float,
        shutdown: GracefulStop,
    ) -> None:
        queue = LocalBuildQueue(arches=buildable_arches(runner))
        # --timeout stops running builds as a second Ctrl-C does.
        timer = threading.Timer(max(1.0, deadline - time.monotonic()), shutdown.stop.set)
        timer.daemon = True
        timer.start()
        try:
            while not shutdown.stopping.is_set():
                unfinished = BuildJob.objects.filter(pk__in=job_ids, status__in=_UNFINISHED)
                if not unfinished.exists():
                    return
                if time.monotonic() > deadline:
                    raise CommandError("--timeout reached with builds still unfinished")
                # There is no cluster to notice: an earlier refine or worker of this host
                # killed mid-build left its job leased to a dead process, and its container.
                reclaim_from_dead_workers(leftovers=stop_leftovers)
                drain(
                    queue,
                    runner,
                    worker_id,
                    pool_size=runtime_settings.value("build_pool_size"),
                    stop=shutdown.stop,
                    stopping=shutdown.stopping,
                    progress=self.stdout.write,
                )
                # Nothing due now: the rest waits on a retry backoff or another worker's build.
                due = unfinished.aggregate(next=Min("next_attempt_at"))["next"]
                wait = (due.timestamp() - time.time()) if due else 2.0
                pause = min(max(wait, 1.0), 30.0, max(0.0, deadline - time.monotonic()))
                shutdown.stopping.wait(pause)
        finally:
            timer.cancel()

    def _fail_if_stopped_short(self, job_ids: list[int]) -> None:
        """A Ctrl-C's grace let every build finish: the run goes on to publish."""
        unfinished = BuildJob.objects.filter(pk__in=job_ids, status__in=_UNFINISHED).count()
        if unfinished == 0:
            return
        raise CommandError(
            f"stopped: {unfinished} of {len(job_ids)} builds unfinished (back in the queue); "
            "run the same command again to go on"
        )


class _Follower(threading.Thread):
    """Prints the plan's new build log lines every half second, and the rest at the end."""

    def __init__(self, plan_id: int, write: Any) -> None:
        super().__init__(daemon=True, name="refine-follow")
        self.logs, self.write = PlanLogs(plan_id), write
        self.stopping = threading.Event()
        self.start()

    def run(self) -> None:
        try:
            while not self.stopping.wait(0.5):
                self._print()
            self._print()
        finally:
            connection.close()

    def _print(self) -> None:
        for line in self.logs.new_lines():
            self.write(line)

    def finish(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


def _index_url(target: IndexTarget) -> str:
    if target == default_target():
        return f"{settings.PUBLIC_URL}/simple/"
    return f"{settings.PUBLIC_URL}/t/{target.slug}/simple/"
