"""The refinery's own pages: the dashboard (staff), the public front page, the settings."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from builds.activity import build_activity, stranded_jobs
from builds.images import MACHINE_TO_DEBIAN
from builds.index.catalog import index_targets, project_names
from builds.models import Subscription
from builds.stats import build_queue_stats
from inputs.plan_queue import plan_queue_stats
from refinery import runtime_settings
from refinery.lib.cli import format_age
from refinery.lib.queue_stats import QueueStats

CHART_WIDTH, CHART_HEIGHT = 1040, 150


def _panel(title: str, stats: QueueStats, list_url: str) -> dict[str, object]:
    rate = stats.success_rate_24h
    return {
        "title": title,
        "stats": stats,
        "oldest": format_age(stats.oldest_waiting_age),
        "average": format_age(stats.average_duration_24h),
        "rate": "-" if rate is None else f"{rate:.0%}",
        "list_url": list_url,
    }


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _chart(hours: list[Any]) -> dict[str, Any]:
    """Bars of the last 24 hours, drawn server-side as SVG geometry."""
    tallest = max([bar.built + bar.failed for bar in hours] + [1])
    slot = CHART_WIDTH / len(hours)
    bars = []
    for index, bar in enumerate(hours):
        built = CHART_HEIGHT * bar.built / tallest
        failed = CHART_HEIGHT * bar.failed / tallest
        bars.append(
            {
                "x": round(index * slot + 2, 1),
                "width": round(slot - 4, 1),
                "built_y": round(CHART_HEIGHT - built, 1),
                "built_h": round(built, 1),
                "failed_y": round(CHART_HEIGHT - built - failed, 1),
                "failed_h": round(failed, 1),
                "label": bar.start.strftime("%H:00"),
                "title": f"{bar.start:%H:00} UTC: {bar.built} built, {bar.failed} failed",
                "show_label": index % 3 == 0,
            }
        )
    return {"bars": bars, "width": CHART_WIDTH, "height": CHART_HEIGHT, "tallest": tallest}


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Both queues at a glance, the last 24 hours, and what waits for nothing."""
    activity = build_activity()
    stranded = [
        {"arch": arch, "count": count, "debian": MACHINE_TO_DEBIAN.get(arch, arch)}
        for arch, count in sorted(stranded_jobs().items())
    ]
    python_major, python_minor = runtime_settings.value("python_version").split(".")[:2]
    rate = activity.success_rate
    return render(
        request,
        "refinery/dashboard.html",
        {
            "queues": [
                _panel("Plan queue", plan_queue_stats(), reverse("pages:inputs")),
                _panel("Build queue", build_queue_stats(), reverse("pages:builds")),
            ],
            "activity": activity,
            "figures": {
                "builds per hour (24 h)": activity.per_hour,
                "success rate (24 h)": "-" if rate is None else f"{rate:.0%}",
                "median build time": _seconds(activity.median_seconds),
                "p95 build time": _seconds(activity.p95_seconds),
                "oldest waiting build": format_age(activity.oldest_pending),
            },
            "chart": _chart(activity.hours),
            "stranded": stranded,
            "disabled_subscriptions": Subscription.objects.filter(active=False).order_by(
                "-disabled_at"
            )[:5],
            "python_tag": f"{python_major}{python_minor}",
            "platform_tag": runtime_settings.value("platform_tag"),
            "strategy": runtime_settings.value("upgrade_strategy"),
            "auto_plan": runtime_settings.value("auto_plan"),
            "auto_build": runtime_settings.value("auto_build"),
        },
    )


def home(request: HttpRequest) -> HttpResponse:
    """Staff get the dashboard; everyone else what the index holds and how to use it."""
    user = request.user
    if user.is_authenticated and user.is_staff:
        return dashboard(request)
    indexes = []
    for target in index_targets():
        default = target.slug == index_targets()[0].slug
        path = "/simple/" if default else f"/t/{target.slug}/simple/"
        indexes.append(
            {
                "slug": target.slug,
                "url": settings.PUBLIC_URL + path,
                "projects": project_names(target),
                "default": default,
            }
        )
    return render(request, "refinery/home.html", {"indexes": indexes})


@staff_member_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """The runtime overlay: each setting's value, its environment default, who changed it."""
    if request.method == "POST":
        changes: dict[str, Any] = {}
        for state in runtime_settings.describe():
            raw = request.POST.get(state.key)
            if raw is None:
                continue
            if request.POST.get(f"reset_{state.key}"):
                changes[state.key] = None
                continue
            try:
                parsed = json.loads(raw) if isinstance(state.default, bool | int) else raw
            except ValueError:
                parsed = raw
            if parsed != state.value:
                changes[state.key] = parsed
        if changes:
            try:
                runtime_settings.update(changes, actor=f"page:{request.user.get_username()}")
            except runtime_settings.SettingsError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"changed {', '.join(sorted(changes))}")
        return HttpResponseRedirect(reverse("pages:settings"))
    return render(request, "refinery/settings.html", {"settings": runtime_settings.describe()})
