from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from builds.stats import build_queue_stats
from inputs.plan_queue import plan_queue_stats
from refinery.lib.cli import format_age, table
from refinery.lib.queue_stats import QueueStats


def _rate(stats: QueueStats) -> str:
    rate = stats.success_rate_24h
    return "-" if rate is None else f"{rate:.0%}"


class Command(BaseCommand):
    help = "Show plan and build queue statistics: depth, oldest waiting, leases, last 24 hours."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args: Any, **options: Any) -> None:
        queues = [plan_queue_stats(), build_queue_stats()]
        if options["json"]:
            self.stdout.write(json.dumps([_as_json(q) for q in queues], indent=2))
            return
        self.stdout.write(
            table(
                [
                    "queue",
                    "waiting",
                    "oldest",
                    "leases",
                    "ok 24h",
                    "failed 24h",
                    "success",
                    "avg time",
                ],
                [
                    [
                        q.name,
                        str(q.waiting),
                        format_age(q.oldest_waiting_age),
                        str(q.active_leases),
                        str(q.succeeded_24h),
                        str(q.failed_24h),
                        _rate(q),
                        format_age(q.average_duration_24h),
                    ]
                    for q in queues
                ],
            )
        )
        for q in queues:
            self.stdout.write("")
            self.stdout.write(
                table(
                    [f"{q.name} status", "count"],
                    [[status, str(count)] for status, count in q.depth_by_status.items()],
                )
            )


def _as_json(stats: QueueStats) -> dict[str, Any]:
    def seconds(value: Any) -> float | None:
        return None if value is None else round(value.total_seconds(), 3)

    return {
        "queue": stats.name,
        "depth_by_status": stats.depth_by_status,
        "waiting": stats.waiting,
        "oldest_waiting_seconds": seconds(stats.oldest_waiting_age),
        "active_leases": stats.active_leases,
        "succeeded_24h": stats.succeeded_24h,
        "failed_24h": stats.failed_24h,
        "success_rate_24h": stats.success_rate_24h,
        "average_duration_seconds_24h": seconds(stats.average_duration_24h),
    }
