"""Build queue statistics: depth, age of the oldest waiting job, leases, 24-hour outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Avg, Count, Min, Q
from django.utils import timezone

from builds.models import BuildJob
from refinery.lib.queue_stats import QueueStats

Status = BuildJob.Status


def build_queue_stats(*, now: datetime | None = None) -> QueueStats:
    now = now if now is not None else timezone.now()
    since = now - timedelta(hours=24)
    depth = dict(BuildJob.objects.values_list("status").annotate(n=Count("id")).order_by())
    waiting = Q(status__in=BuildJob.CLAIMABLE)
    aggregates = BuildJob.objects.aggregate(
        waiting=Count("id", filter=waiting),
        oldest=Min("enqueued_at", filter=waiting),
        leases=Count(
            "id", filter=Q(status__in=BuildJob.LEASED_STATUSES, lease_expires_at__gte=now)
        ),
        succeeded=Count("id", filter=Q(status=Status.BUILT, finished_at__gte=since)),
        failed=Count(
            "id",
            filter=Q(
                status__in=[Status.FAILED, Status.SYSTEM_RECIPE_FAILED], finished_at__gte=since
            ),
        ),
        average=Avg("duration", filter=Q(status=Status.BUILT, finished_at__gte=since)),
    )
    return QueueStats.from_aggregates(
        "build", statuses=Status.values, depth=depth, aggregates=aggregates, now=now
    )
