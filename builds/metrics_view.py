"""``/metrics`` for Prometheus: counters from every process (multiprocess mode when
``PROMETHEUS_MULTIPROC_DIR`` is set) and the queue's gauges read from the database.

Open to clients on this host's loopback; others send ``Authorization: Bearer <METRICS_TOKEN>``.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from builds.metrics_collector import DatabaseCollector


class _ThisProcess(Collector):
    """The process's own registry (single-process mode)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _from_loopback(request: HttpRequest) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _has_token(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def registry() -> CollectorRegistry:
    scraped = CollectorRegistry(auto_describe=False)
    if settings.PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(  # type: ignore[no-untyped-call]
            scraped, path=settings.PROMETHEUS_MULTIPROC_DIR
        )
    else:
        scraped.register(_ThisProcess())
    scraped.register(DatabaseCollector())
    return scraped


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not (_has_token(request) or _from_loopback(request)):
        status = 403 if request.headers.get("Authorization") else 401
        return HttpResponse(
            "metrics are open on loopback; elsewhere send Authorization: Bearer <METRICS_TOKEN>\n",
            status=status,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
