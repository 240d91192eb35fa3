from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.models import BuildJob
from builds.queue import QueueError, reap_expired_leases, retry
from refinery.lib.cli import parse_ids
from refinery.lib.state_machine import IllegalTransition


class Command(BaseCommand):
    help = (
        "Put build jobs back in the queue: the given failed/cancelled jobs, every failed job "
        "(--failed, optionally of one --plan), or jobs whose worker lease expired (--expired)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_ids", nargs="*", metavar="JOB_ID")
        parser.add_argument("--failed", action="store_true", help="every failed job")
        parser.add_argument("--plan", metavar="PLAN_ID", help="with --failed: only this plan")
        parser.add_argument("--expired", action="store_true", help="run the lease reaper now")

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = [bool(options["job_ids"]), options["failed"], options["expired"]]
        if sum(chosen) != 1:
            raise CommandError("give job ids, or --failed, or --expired (exactly one of them)")
        if options["plan"] and not options["failed"]:
            raise CommandError("--plan only goes with --failed")
        if options["expired"]:
            result = reap_expired_leases()
            self.stdout.write(
                f"{result.requeued} expired lease(s) requeued, {result.failed} failed"
            )
            return
        if options["failed"]:
            jobs = BuildJob.objects.filter(status=BuildJob.Status.FAILED)
            if options["plan"]:
                jobs = jobs.filter(plan_id=parse_ids([options["plan"]], "plan")[0])
        else:
            ids = parse_ids(options["job_ids"], "build job")
            jobs = BuildJob.objects.filter(pk__in=ids)
            missing = sorted(set(ids) - set(jobs.values_list("pk", flat=True)))
            if missing:
                raise CommandError(f"build job {missing[0]} does not exist")
        count = 0
        for job in jobs.select_related("target"):
            try:
                retry(job, actor="cli")
            except (QueueError, IllegalTransition) as exc:
                raise CommandError(str(exc)) from None
            count += 1
        self.stdout.write(f"{count} job(s) requeued")
