"""What the dashboard shows about builds: the queue by target, the last 24 hours hour by
hour, build times, and jobs that wait for an architecture nothing here can build."""

from __future__ import annotations

import platform
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.utils import timezone

from builds.images import DEBIAN_TO_MACHINE
from builds.models import BuilderImage, BuildEvent, BuildJob
from inputs.target_env import platform_arch
from plans.models import Target

Status = BuildJob.Status
FAILED = (Status.FAILED, Status.SYSTEM_RECIPE_FAILED)
# A remote worker that claimed a job for an architecture this recently counts as there.
REMOTE_WORKER_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class HourBar:
    """One hour of the last 24: builds that ended built or failed."""

    start: datetime
    built: int
    failed: int


@dataclass(frozen=True)
class Activity:
    depth_by_target: dict[str, dict[str, int]]
    hours: list[HourBar]
    built_24h: int
    failed_24h: int
    median_seconds: float | None
    p95_seconds: float | None
    oldest_pending: timedelta | None

    @property
    def per_hour(self) -> float:
        return round((self.built_24h + self.failed_24h) / 24, 1)

    @property
    def success_rate(self) -> float | None:
        done = self.built_24h + self.failed_24h
        return None if done == 0 else self.built_24h / done


def build_activity(*, now: datetime | None = None) -> Activity:
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    depth: dict[str, dict[str, int]] = {}
    for target_id, status, count in (
        BuildJob.objects.values_list("target_id", "status").annotate(n=Count("id")).order_by()
    ):
        depth.setdefault(str(target_id), {})[status] = count
    targets = {str(t.pk): str(t) for t in Target.objects.filter(pk__in=[int(k) for k in depth])}
    finished = list(
        BuildJob.objects.filter(
            finished_at__gte=since, status__in=(Status.BUILT, *FAILED)
        ).values_list("finished_at", "status", "duration")
    )
    start = (now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    hours = []
    for index in range(24):
        begin = start + timedelta(hours=index)
        end = begin + timedelta(hours=1)
        in_hour = [status for at, status, _ in finished if at is not None and begin <= at < end]
        hours.append(
            HourBar(begin, in_hour.count(Status.BUILT), len(in_hour) - in_hour.count(Status.BUILT))
        )
    durations = sorted(
        d.total_seconds() for _, status, d in finished if status == Status.BUILT and d is not None
    )
    oldest = BuildJob.objects.filter(status__in=BuildJob.CLAIMABLE).aggregate(m=Min("enqueued_at"))
    return Activity(
        depth_by_target={targets.get(k, k): v for k, v in sorted(depth.items())},
        hours=hours,
        built_24h=sum(1 for _, status, _ in finished if status == Status.BUILT),
        failed_24h=sum(1 for _, status, _ in finished if status in FAILED),
        median_seconds=statistics.median(durations) if durations else None,
        p95_seconds=durations[int(0.95 * (len(durations) - 1))] if durations else None,
        oldest_pending=now - oldest["m"] if oldest["m"] else None,
    )


def buildable_arches(*, now: datetime | None = None) -> set[str]:
    """Machine architectures something here can build: this host (the local runner), every
    builder image podman has, and any a remote worker claimed a job for lately."""
    now = now or timezone.now()
    arches = {platform.machine()}
    arches |= {
        DEBIAN_TO_MACHINE.get(a, a) for a in BuilderImage.objects.values_list("arch", flat=True)
    }
    recent = BuildEvent.objects.filter(
        to_status=Status.LEASED, created_at__gte=now - REMOTE_WORKER_WINDOW
    ).values_list("job__target__platform_tag", flat=True)
    arches |= {platform_arch(tag) for tag in set(recent)}
    return arches


def stranded_jobs(*, now: datetime | None = None) -> dict[str, int]:
    """Waiting jobs per architecture no worker here can build (they would wait forever)."""
    arches = buildable_arches(now=now)
    waiting = (
        BuildJob.objects.filter(status__in=BuildJob.CLAIMABLE)
        .values_list("target__platform_tag")
        .annotate(n=Count("id"))
        .order_by()
    )
    stranded: dict[str, int] = {}
    for tag, count in waiting:
        arch = platform_arch(tag)
        if arch not in arches:
            stranded[arch] = stranded.get(arch, 0) + count
    return stranded
