from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from builds.stats import build_queue_stats
from inputs.plan_queue import plan_queue_stats
from refinery import runtime_settings
from refinery.lib.cli import format_age
from refinery.lib.queue_stats import QueueStats


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


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Both queues at a glance, each status linking to its filtered admin list."""
    python_major, python_minor = runtime_settings.value("python_version").split(".")[:2]
    return render(
        request,
        "refinery/dashboard.html",
        {
            "queues": [
                _panel(
                    "Plan queue",
                    plan_queue_stats(),
                    reverse("admin:inputs_pendinginput_changelist"),
                ),
                _panel(
                    "Build queue",
                    build_queue_stats(),
                    reverse("admin:builds_buildjob_changelist"),
                ),
            ],
            "python_tag": f"{python_major}{python_minor}",
            "platform_tag": runtime_settings.value("platform_tag"),
            "strategy": runtime_settings.value("upgrade_strategy"),
            "auto_plan": runtime_settings.value("auto_plan"),
            "auto_build": runtime_settings.value("auto_build"),
        },
    )
