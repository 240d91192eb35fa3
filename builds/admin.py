"""Admin for the build queue; its actions call the same services as the API and commands."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django_q.tasks import async_task

from builds import repairs
from builds.forms import RecipesForm, WheelUploadForm
from builds.index import publishing
from builds.index.catalog import target_for_slug
from builds.log_viewer import log_viewer_context
from builds.models import Artifact, BuildEvent, BuildJob
from builds.notifications import admin as notifications_admin  # noqa: F401 - registers models
from builds.plan_builds import enqueue_plan_builds
from builds.queue import QueueError, cancel, prioritize, reap_expired_leases, retry
from builds.wheel_upload import WheelUploadError, upload_wheel
from plans.admin import PlanAdmin
from plans.models import Plan
from refinery.lib.cli import format_age
from refinery.lib.numbers import natural_number
from refinery.lib.state_machine import IllegalTransition

# Fields only workers and services write; an operator edits them through actions.
WORKER_OWNED = (
    "status",
    "attempts",
    "lease_owner",
    "lease_expires_at",
    "heartbeat_at",
    "recipes",
    "recipe_origins",
    "repair_rounds",
    "failure_reason",
    "error",
    "enqueued_at",
    "started_at",
    "finished_at",
    "updated_at",
    "duration",
    "next_attempt_at",
    "regressed_from",
)


class BuildEventInline(admin.TabularInline[BuildEvent, BuildJob]):
    model = BuildEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "after", "kind", "from_status", "to_status", "actor", "message")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: BuildJob | None = None) -> bool:
        return False

    @admin.display(description="after previous")
    def after(self, event: BuildEvent) -> str:
        earlier = Q(created_at__lt=event.created_at) | Q(
            created_at=event.created_at, pk__lt=event.pk
        )
        before = (
            BuildEvent.objects.filter(earlier, job_id=event.job_id)
            .order_by("-created_at", "-id")
            .values_list("created_at", flat=True)
            .first()
        )
        return "-" if before is None else format_age(event.created_at - before)


def _run_each(
    modeladmin: admin.ModelAdmin[BuildJob],
    request: HttpRequest,
    queryset: QuerySet[BuildJob],
    operation: str,
) -> None:
    done, refused = 0, []
    actor = f"admin:{request.user.get_username()}"
    for job in queryset.select_related("target"):
        try:
            if operation == "retry":
                retry(job, actor=actor)
            else:
                cancel(job, actor=actor)
            done += 1
        except (QueueError, IllegalTransition) as exc:
            refused.append(str(exc))
    if done:
        modeladmin.message_user(request, f"{operation}: {done} job(s) done", messages.SUCCESS)
    for reason in refused[:10]:
        modeladmin.message_user(request, reason, messages.WARNING)


@admin.register(BuildJob)
class BuildJobAdmin(admin.ModelAdmin[BuildJob]):
    list_display = (
        "id",
        "name",
        "version",
        "target",
        "status",
        "priority",
        "attempts",
        "max_attempts",
        "repair_rounds",
        "failure_reason",
        "regression",
        "lease_owner",
        "enqueued_at",
        "finished_at",
    )
    list_filter = ("status", "priority", "failure_reason", "target", "enqueued_at")
    search_fields = ("name", "version", "lease_owner", "error")
    date_hierarchy = "enqueued_at"
    list_select_related = ("target",)
    raw_id_fields = ("plan",)
    # A job is its package, version, target and plan for good; only its priority is the
    # operator's to change here (through the queue, which records it).
    readonly_fields = (
        "name",
        "version",
        "target",
        "plan",
        "max_attempts",
        "critical_path_ms",
        *WORKER_OWNED,
    )
    inlines = (BuildEventInline,)
    actions = ("retry_jobs", "retry_with_recipes", "cancel_jobs", "requeue_expired")

    @admin.display(description="regressed", boolean=True)
    def regression(self, job: BuildJob) -> bool:
        return job.regressed_from_id is not None

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        job = (
            BuildJob.objects.filter(pk=object_id).first()
            if natural_number(object_id) is not None
            else None
        )
        context = {**(extra_context or {})}
        if job is not None:
            context["viewer"] = log_viewer_context(job)
        return super().change_view(request, object_id, form_url, context)

    def save_model(
        self, request: HttpRequest, obj: BuildJob, form: ModelForm[BuildJob], change: bool
    ) -> None:
        if not change or "priority" not in form.changed_data:
            return
        stored = BuildJob.objects.get(pk=obj.pk)
        try:
            prioritize(stored, obj.priority, actor=f"admin:{request.user.get_username()}")
        except QueueError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def has_delete_permission(self, request: HttpRequest, obj: BuildJob | None = None) -> bool:
        # A job a worker may hold is cancelled, not deleted; finished ones may go.
        if obj is not None and obj.status in BuildJob.ACTIVE:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Retry selected jobs with recipes…")
    def retry_with_recipes(
        self, request: HttpRequest, queryset: QuerySet[BuildJob]
    ) -> TemplateResponse | None:
        """An intermediate page asks for the recipes (JSON, the recipe schema)."""
        form = RecipesForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            actor = f"admin:{request.user.get_username()}"
            done = 0
            for job in queryset.select_related("target"):
                try:
                    repairs.retry_with_recipes(job, form.cleaned_data["recipes"], actor=actor)
                    done += 1
                except (QueueError, IllegalTransition) as exc:
                    self.message_user(request, str(exc), messages.WARNING)
            self.message_user(request, f"retried {done} job(s) with recipes", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Retry with recipes",
            "form": form,
            "jobs": list(queryset),
        }
        return TemplateResponse(request, "admin/builds/buildjob/retry_with_recipes.html", context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Jobs come from plans and the enqueue service, which check their input.

    @admin.action(description="Retry selected failed/cancelled jobs")
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[BuildJob]) -> None:
        _run_each(self, request, queryset, "retry")

    @admin.action(description="Cancel selected active jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[BuildJob]) -> None:
        _run_each(self, request, queryset, "cancel")

    @admin.action(description="Requeue selected jobs whose lease expired")
    def requeue_expired(self, request: HttpRequest, queryset: QuerySet[BuildJob]) -> None:
        result = reap_expired_leases(job_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            f"{result.requeued} requeued, {result.failed} failed (no attempts left); "
            "jobs with a live lease were left alone",
            messages.SUCCESS,
        )


@admin.register(BuildEvent)
class BuildEventAdmin(admin.ModelAdmin[BuildEvent]):
    list_display = ("created_at", "job", "kind", "from_status", "to_status", "actor", "message")
    list_filter = ("kind", "to_status", "created_at")
    search_fields = ("job__name", "actor", "message")
    list_select_related = ("job", "job__target")
    readonly_fields = (
        "job",
        "kind",
        "from_status",
        "to_status",
        "actor",
        "message",
        "data",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BuildEvent | None = None) -> bool:
        return False  # The timeline is history.


# The Plan admin lives in plans/, which must not import builds/; builds extends it with
# the action that creates build jobs.
admin.site.unregister(Plan)


@admin.register(Plan)
class PlanWithBuildsAdmin(PlanAdmin):
    actions = (*PlanAdmin.actions, "enqueue_builds")

    @admin.action(description="Enqueue builds for selected plans")
    def enqueue_builds(self, request: HttpRequest, queryset: QuerySet[Plan]) -> None:
        actor = f"admin:{request.user.get_username()}"
        for plan in queryset:
            try:
                summary = enqueue_plan_builds(plan, actor=actor)
            except (QueueError, IllegalTransition) as exc:
                self.message_user(request, f"plan {plan.pk}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"plan {plan.pk}: {summary}", messages.SUCCESS)


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin[Artifact]):
    list_display = (
        "filename",
        "name",
        "version",
        "origin",
        "target",
        "yanked",
        "reproducible",
        "size",
        "uploaded_at",
    )
    list_filter = ("origin", "yanked", "reproducible", "target", "uploaded_at")
    search_fields = ("name", "filename", "sha256")
    date_hierarchy = "uploaded_at"
    actions = ("yank_action", "unyank_action", "reproduce_action")

    @admin.action(description="Rebuild from provenance and compare the bytes")
    def reproduce_action(self, request: HttpRequest, queryset: QuerySet[Artifact]) -> None:
        built = list(queryset.filter(origin=Artifact.Origin.BUILT).values_list("pk", flat=True))
        for artifact_id in built:
            async_task(
                "builds.tasks.reproduce_artifact",
                artifact_id,
                task_name=f"reproduce artifact {artifact_id}",
            )
        skipped = queryset.count() - len(built)
        note = f"; {skipped} not built here, skipped" if skipped else ""
        self.message_user(
            request,
            f"{len(built)} rebuild(s) queued; the verdict appears in the reproducible column{note}",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Artifact | None = None) -> list[str]:
        # Stored bytes are immutable; yanking goes through the actions, which refresh the index.
        return [field.name for field in Artifact._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # wheels arrive through the upload view, which validates them

    def has_delete_permission(self, request: HttpRequest, obj: Artifact | None = None) -> bool:
        return False  # published files are yanked, never deleted (lock files name their hashes)

    def get_urls(self) -> list[URLPattern]:
        upload = path(
            "upload/", self.admin_site.admin_view(self.upload_view), name="builds_artifact_upload"
        )
        return [upload, *super().get_urls()]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a wheel through the same service as the API and ``manage.py upload``."""
        if not request.user.is_staff:
            return HttpResponse(status=403)
        form = WheelUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = upload_wheel(
                    upload,
                    upload.name or "",
                    target=target_for_slug(form.cleaned_data["target"]),
                    uploader=request.user.get_username(),
                )
            except WheelUploadError as exc:
                form.add_error("file", str(exc))
            else:
                level = messages.SUCCESS if result.created else messages.INFO
                self.message_user(request, result.message, level)
                return HttpResponseRedirect(
                    reverse("admin:builds_artifact_change", args=[result.artifact.pk])
                )
        context = {**self.admin_site.each_context(request), "form": form, "title": "Upload wheel"}
        return TemplateResponse(request, "admin/builds/artifact/upload.html", context)

    @admin.action(description="Yank selected files (pip skips them unless pinned)")
    def yank_action(self, request: HttpRequest, queryset: QuerySet[Artifact]) -> None:
        done = sum(publishing.yank(artifact, "yanked by an operator") for artifact in queryset)
        self.message_user(request, f"yanked {done} file(s)", messages.SUCCESS)

    @admin.action(description="Unyank selected files")
    def unyank_action(self, request: HttpRequest, queryset: QuerySet[Artifact]) -> None:
        done = sum(publishing.unyank(artifact) for artifact in queryset)
        self.message_user(request, f"unyanked {done} file(s)", messages.SUCCESS)
