"""Operator pages for builds: the builds list, one build, a package, and the forms that act
on them (retry, cancel, prioritize, enqueue a plan's nodes, upload a wheel). Each action
calls the same service as the admin and the API; the pages only read and redirect."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from packaging.utils import canonicalize_name

from builds import queue
from builds.activity import buildable_arches
from builds.forms import JobActionForm, NodeEnqueueForm, WheelUploadForm
from builds.images import MACHINE_TO_DEBIAN
from builds.index.catalog import target_for_slug
from builds.log_viewer import log_viewer_context
from builds.models import BuildEvent, BuildJob, LogChunk
from builds.package_page import package_overview
from builds.page_filters import BuildPageFilter
from builds.plan_builds import enqueue_plan_builds
from builds.wheel_upload import WheelUploadError, upload_wheel
from inputs.target_env import platform_arch
from plans.models import Plan
from refinery.lib.api_errors import first_error
from refinery.lib.state_machine import IllegalTransition

PAGE_SIZE = 50


def with_gaps(events: list[BuildEvent]) -> list[tuple[BuildEvent, timedelta | None]]:
    """Each event with the time since the one before it (in list order)."""
    gaps: list[tuple[BuildEvent, timedelta | None]] = []
    for index, event in enumerate(events):
        before = events[index - 1].created_at if index else None
        gaps.append((event, abs(event.created_at - before) if before else None))
    return gaps


def _actor(request: HttpRequest) -> str:
    return f"page:{request.user.get_username()}"


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """To the page the form was on (``next``), when it is one of ours."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(fallback)


@staff_member_required
def build_list(request: HttpRequest) -> HttpResponse:
    """Every build job, newest first, filtered by status, target, name and reason."""
    jobs = BuildJob.objects.select_related("target", "regressed_from").order_by(
        "-enqueued_at", "-id"
    )
    query = request.GET.copy()
    query.pop("page", None)
    for key in list(query):  # an empty field of the form means "any"
        query.setlist(key, [value for value in query.getlist(key) if value])
    filters = BuildPageFilter(query or None, queryset=jobs)
    valid = not filters.is_bound or filters.is_valid()
    page = Paginator(filters.qs if valid else jobs.none(), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "builds/build_list.html",
        {
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "priorities": JobActionForm.PRIORITIES,
            "total": page.paginator.count,
        },
        status=200 if valid else 400,
    )


@staff_member_required
def build_page(request: HttpRequest, pk: int) -> HttpResponse:
    """One job: what it is, where it stands, its timeline and its log, live."""
    job = get_object_or_404(
        BuildJob.objects.select_related("target", "plan", "regressed_from"), pk=pk
    )
    arch = platform_arch(job.target.platform_tag)
    stranded = job.status in BuildJob.CLAIMABLE and arch not in buildable_arches()
    return render(
        request,
        "builds/build_page.html",
        {
            "job": job,
            "stranded_arch": arch if stranded else "",
            "debian_arch": MACHINE_TO_DEBIAN.get(arch, arch),
            "events": with_gaps(list(job.events.order_by("created_at", "id"))),
            "viewer": log_viewer_context(job),
            "priorities": JobActionForm.PRIORITIES,
        },
    )


@staff_member_required
def package_page(request: HttpRequest, name: str) -> HttpResponse:
    """A project: versions by targets, its artifacts with provenance, its builds' timeline,
    and the log viewer for any of its jobs."""
    canonical = canonicalize_name(name)
    if canonical != name:
        return HttpResponseRedirect(reverse("pages:package", args=[canonical]))
    overview = package_overview(canonical)
    if overview is None:
        raise Http404(f"no builds or wheels of {name}")
    chosen = request.GET.get("job", "")
    with_logs = set(
        LogChunk.objects.filter(job__name=canonical).values_list("job_id", flat=True).distinct()
    )
    # The asked-for job, else the newest with a log, else the newest.
    job = (
        next((j for j in overview.jobs if str(j.pk) == chosen), None)
        or next((j for j in overview.jobs if j.pk in with_logs), None)
        or (overview.jobs[0] if overview.jobs else None)
    )
    return render(
        request,
        "builds/package_page.html",
        {
            "package": overview,
            "job": job,
            "viewer": log_viewer_context(job) if job is not None else None,
        },
    )


@staff_member_required
@require_POST
def job_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Retry, cancel or reprioritize one job."""
    job = get_object_or_404(BuildJob.objects.select_related("target"), pk=pk)
    form = JobActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"build {pk}: {first_error(form.errors)}")
        return _back(request, reverse("pages:build", args=[pk]))
    action = form.cleaned_data["action"]
    try:
        if action == "retry":
            queue.retry(job, actor=_actor(request))
        elif action == "cancel":
            queue.cancel(job, actor=_actor(request))
        else:
            queue.prioritize(job, int(form.cleaned_data["priority"]), actor=_actor(request))
    except (queue.QueueError, IllegalTransition) as exc:
        messages.error(request, str(exc))
    else:
        done = {"retry": "retried", "cancel": "cancelled", "prioritize": "reprioritized"}[action]
        messages.success(request, f"build {pk} ({job.name}=={job.version}) {done}")
    return _back(request, reverse("pages:build", args=[pk]))


@staff_member_required
@require_POST
def plan_enqueue(request: HttpRequest, pk: int) -> HttpResponse:
    """Enqueue a plan's builds, or one node of it."""
    plan = get_object_or_404(Plan, pk=pk)
    form = NodeEnqueueForm(request.POST, plan=plan)
    if not form.is_valid():
        messages.error(request, f"plan {pk}: {first_error(form.errors)}")
        return _back(request, reverse("pages:plan", args=[pk]))
    node = form.cleaned_data["node"] or None
    try:
        summary = enqueue_plan_builds(plan, actor=_actor(request), node=node)
    except (queue.QueueError, IllegalTransition) as exc:
        messages.error(request, f"plan {pk}: {exc}")
    else:
        messages.success(request, f"plan {pk}{f' ({node})' if node else ''}: {summary}")
    return _back(request, reverse("pages:plan", args=[pk]))


@staff_member_required
@require_POST
def wheel_upload(request: HttpRequest) -> HttpResponse:
    """A wheel from the inputs page, through the same checks as the API's upload."""
    form = WheelUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, f"wheel upload: {first_error(form.errors)}")
        return _back(request, reverse("pages:inputs"))
    upload = form.cleaned_data["file"]
    target = target_for_slug(form.cleaned_data["target"] or None)
    if target is None:
        messages.error(request, f"target: no index for {form.cleaned_data['target']!r}")
        return _back(request, reverse("pages:inputs"))
    try:
        result = upload_wheel(
            upload, upload.name or "", target=target, uploader=request.user.get_username()
        )
    except WheelUploadError as exc:
        messages.error(request, str(exc))
        return _back(request, reverse("pages:inputs"))
    messages.success(request, result.message)
    return HttpResponseRedirect(reverse("pages:package", args=[result.artifact.name]))
