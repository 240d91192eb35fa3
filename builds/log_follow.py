"""Following build logs from a terminal (``manage.py logs --follow``, ``refine --follow``):
new stored lines, read a batch at a time by line number, so nothing shows twice."""

from __future__ import annotations

from dataclasses import dataclass, field

from builds.log_reader import lines_since
from builds.models import BuildJob


@dataclass
class LogCursor:
    job_id: int
    attempt: int | None = None  # only this attempt's lines
    next_line: int = 0

    def new_lines(self) -> list[str]:
        found: list[str] = []
        for batch in lines_since(self.job_id, self.next_line):
            if self.attempt is None or batch.attempt == self.attempt:
                found.extend(batch.lines)
            self.next_line = batch.seq + len(batch.lines)
        return found


@dataclass
class PlanLogs:
    """The logs of a plan's build jobs, each line prefixed with its package."""

    plan_id: int
    cursors: dict[int, LogCursor] = field(default_factory=dict)

    def new_lines(self) -> list[str]:
        for job_id in BuildJob.objects.filter(plan_id=self.plan_id).values_list("pk", flat=True):
            self.cursors.setdefault(job_id, LogCursor(job_id))
        names = dict(BuildJob.objects.filter(pk__in=self.cursors).values_list("pk", "name"))
        return [
            f"{names.get(job_id, job_id)} | {line}"
            for job_id, cursor in self.cursors.items()
            for line in cursor.new_lines()
        ]
