"""Gauges read from the database when Prometheus scrapes: the queue as it is, whichever
process changed it (web, cluster, a remote worker's reports), with nothing to keep in step
across processes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Count, Min, QuerySet
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from builds.job_metrics import target_label
from builds.models import Artifact, BuildJob, Delivery, Subscription
from inputs.models import PendingInput

Status = BuildJob.Status


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        counts = self._job_counts()
        yield self._jobs(counts)
        # Every target with jobs gets an age (0 when nothing waits): one scan, not two.
        yield self._oldest_pending({target_id for _, target_id in counts})
        yield self._inputs()
        yield self._artifacts()
        yield from self._notifications()

    @staticmethod
    def _job_counts() -> dict[tuple[str, int], int]:
        return {
            (row["status"], row["target_id"]): row["n"]
            for row in BuildJob.objects.order_by()
            .values("status", "target_id")
            .annotate(n=Count("id"))
        }

    def _jobs(self, counts: dict[tuple[str, int], int]) -> Metric:
        family = GaugeMetricFamily(
            "refinery_build_jobs", "Build jobs by status and target.", labels=["status", "target"]
        )
        counts = dict(counts)
        # Active statuses are always there for a target, so a drained queue reads 0.
        for target_id in {target_id for _, target_id in counts}:
            for status in BuildJob.ACTIVE:
                counts.setdefault((status, target_id), 0)
        for (status, target_id), n in sorted(counts.items()):
            family.add_metric([status, target_label(target_id)], n)
        return family

    def _oldest_pending(self, targets: set[int]) -> Metric:
        family = GaugeMetricFamily(
            "refinery_queue_oldest_pending_seconds",
            "Age of the oldest pending build job, by target (0 when none waits).",
            labels=["target"],
        )
        now = timezone.now()
        oldest = {
            row["target_id"]: row["oldest"]
            for row in BuildJob.objects.filter(status=Status.PENDING)
            .order_by()
            .values("target_id")
            .annotate(oldest=Min("enqueued_at"))
        }
        for target_id in sorted(targets | set(oldest)):
            since = oldest.get(target_id)
            age = max(0.0, (now - since).total_seconds()) if since is not None else 0.0
            family.add_metric([target_label(target_id)], age)
        return family

    def _inputs(self) -> Metric:
        return _counts_by(
            "refinery_inputs",
            "Uploaded inputs by status.",
            PendingInput.objects.all(),
            "status",
            PendingInput.Status.values,
        )

    def _artifacts(self) -> Metric:
        return _counts_by(
            "refinery_artifacts",
            "Wheels in the store by origin.",
            Artifact.objects.all(),
            "origin",
            Artifact.Origin.values,
        )

    def _notifications(self) -> Iterator[Metric]:
        waiting = (Delivery.Status.PENDING, Delivery.Status.RETRYING)
        yield _counts_by(
            "refinery_notification_deliveries_waiting",
            "Deliveries not yet made (pending or waiting to retry).",
            Delivery.objects.filter(status__in=waiting),
            "status",
            waiting,
        )
        subscriptions = GaugeMetricFamily(
            "refinery_subscriptions", "Subscriptions by state.", labels=["state"]
        )
        active = dict(Subscription.objects.order_by().values_list("active").annotate(n=Count("id")))
        subscriptions.add_metric(["active"], active.get(True, 0))
        subscriptions.add_metric(["disabled"], active.get(False, 0))
        yield subscriptions


def _counts_by(
    name: str, documentation: str, rows: QuerySet[Any], field: str, values: Iterable[str]
) -> Metric:
    """A gauge of ``rows`` counted by ``field``, every one of ``values`` present (0 if none)."""
    family = GaugeMetricFamily(name, documentation, labels=[field])
    counts = dict(rows.order_by().values_list(field).annotate(n=Count("id")))
    for value in values:
        family.add_metric([value], counts.get(value, 0))
    return family
