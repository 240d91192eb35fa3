"""The plan page: the DAG drawn, layered by depth, with its table beside it. Job statuses
come over the plan's websocket (``/ws/plans/<id>/``), which lives with the builds."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from plans.dag_layout import NODE_HEIGHT, NODE_WIDTH, layout_dag
from plans.models import Plan


@staff_member_required
def plan_page(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(Plan.objects.select_related("target"), pk=pk)
    layout = layout_dag(plan.dag if isinstance(plan.dag, dict) else {})
    counts: dict[str, int] = {}
    for node in layout.nodes:
        counts[node.action] = counts.get(node.action, 0) + 1
    return render(
        request,
        "plans/plan_page.html",
        {
            "plan": plan,
            "layout": layout,
            "node_width": NODE_WIDTH,
            "node_height": NODE_HEIGHT,
            "counts": sorted(counts.items()),
            "inputs": plan.input_links.select_related("input").order_by("input_id"),
            "socket": f"/ws/plans/{plan.pk}/",
            "nodes_json": {
                n.key: {
                    "name": n.name,
                    "version": n.version,
                    "action": n.action,
                    "why": n.node.get("why", ""),
                    "roles": n.node.get("roles", []),
                }
                for n in layout.nodes
            },
        },
    )
