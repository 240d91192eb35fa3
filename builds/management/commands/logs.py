from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.log_follow import LogCursor
from builds.models import BuildJob
from refinery.lib.numbers import natural_number


class Command(BaseCommand):
    help = (
        "Print a build job's log; --follow keeps printing new lines until the job finishes "
        "and exits with its outcome (0 built, 1 otherwise)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job", metavar="JOB_ID")
        parser.add_argument("--follow", "-f", action="store_true", help="until the job ends")
        parser.add_argument("--attempt", default=None, help="only this attempt's lines")
        parser.add_argument("--poll", default="0.5", help="seconds between reads (--follow)")

    def handle(self, *args: Any, **options: Any) -> None:
        job_id, attempt, poll = options["job"], options["attempt"], options["poll"]
        if natural_number(str(job_id)) is None:
            raise CommandError(f"JOB_ID {job_id!r} is not a job number")
        if attempt is not None and natural_number(str(attempt)) is None:
            raise CommandError(f"--attempt {attempt!r} is not an attempt number")
        try:
            interval = float(poll)
        except ValueError:
            raise CommandError(f"--poll {poll!r} is not a number of seconds") from None
        if not 0.05 <= interval <= 60:
            raise CommandError("--poll must be between 0.05 and 60 seconds")
        job = BuildJob.objects.filter(pk=int(job_id)).first()
        if job is None:
            raise CommandError(f"no build job {job_id}")
        cursor = LogCursor(job.pk, int(attempt) if attempt is not None else None)
        while True:
            job.refresh_from_db(fields=["status", "failure_reason", "error"])
            for line in cursor.new_lines():
                self.stdout.write(line)
            if not options["follow"] or job.is_final:
                break
            time.sleep(interval)
        if options["follow"] and job.status not in BuildJob.SUCCEEDED:
            raise CommandError(
                f"job {job.pk} ended {job.status}"
                + (f" ({job.failure_reason}): {job.error[:300]}" if job.failure_reason else "")
            )
