"""The hints page: the catalog with how often each hint matched and repaired; edits go
through the admin, which validates recipes and re-queues failures a change may fix."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hints.models import Hint

PAGE_SIZE = 100


@staff_member_required
def hint_list(request: HttpRequest) -> HttpResponse:
    hints = Hint.objects.order_by("-success_count", "-hit_count", "name")
    source = request.GET.get("source", "")
    if source in Hint.Source.values:
        hints = hints.filter(source=source)
    query = request.GET.get("q", "").strip()[:200]
    if query:
        hints = hints.filter(
            Q(name__icontains=query)
            | Q(package__icontains=query)
            | Q(pattern__icontains=query)
            | Q(description__icontains=query)
        )
    page = Paginator(hints, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "hints/hint_list.html",
        {
            "page": page,
            "sources": Hint.Source.choices,
            "source": source,
            "q": query,
            "query": urlencode({k: v for k, v in (("source", source), ("q", query)) if v}),
        },
    )
