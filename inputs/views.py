"""The inputs page: uploaded inputs with their status, the upload forms, and enqueue /
replan, through the same services as the admin and the API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from inputs.forms import RequirementsUploadForm
from inputs.models import PendingInput
from inputs.plan_queue import PlanQueueError, queue_for_planning
from inputs.services import UploadError
from refinery.lib.state_machine import IllegalTransition

PAGE_SIZE = 50


@staff_member_required
@require_http_methods(["GET", "POST"])
def input_list(request: HttpRequest) -> HttpResponse:
    """GET: the inputs, newest first (``?status=``); POST: a requirements upload."""
    form = RequirementsUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = form.upload()
        except UploadError as exc:
            form.add_error("file", str(exc))
        else:
            level = messages.SUCCESS if result.created else messages.INFO
            messages.add_message(request, level, result.message)
            return HttpResponseRedirect(reverse("pages:inputs"))
    inputs = PendingInput.objects.prefetch_related("plan_links").order_by("-created_at", "-id")
    status = request.GET.get("status", "")
    if status in PendingInput.Status.values:
        inputs = inputs.filter(status=status)
    page = Paginator(inputs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "inputs/input_list.html",
        {
            "form": form,
            "page": page,
            "statuses": PendingInput.Status.values,
            "status": status,
            "query": f"status={status}" if status else "",
        },
        status=400 if form.errors else 200,
    )


@staff_member_required
@require_POST
def input_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """Plan an input: its first plan when pending, a new plan version when planned or failed."""
    pending = get_object_or_404(PendingInput, pk=pk)
    try:
        pending = queue_for_planning(pending)
    except (PlanQueueError, IllegalTransition) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"input {pk} ({pending.original_filename}) queued for planning")
    return HttpResponseRedirect(reverse("pages:inputs"))
