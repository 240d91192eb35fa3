"""Admin for the build queue; its actions call the same services as the API and commands."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from builds.models import BuildEvent, BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.queue import QueueError, cancel, reap_expired_leases, retry
from plans.admin import PlanAdmin
from plans.models import Plan
from refinery.lib.state_machine import IllegalTransition

# Fields only workers and services write; an operator edits them through actions.
WORKER_OWNED = (
    "status",
    "attempts",
    "lease_owner",
    "lease_expires_at",
    "heartbeat_at",
    "recipes",
    "failure_reason",
    "error",
    "enqueued_at",
    "started_at",
    "finished_at",
    "updated_at",
    "duration",
    "next_attempt_at",
)


class BuildEventInline(admin.TabularInline[BuildEvent, BuildJob]):
    model = BuildEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "from_status", "to_status", "actor", "message")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: BuildJob | None = None) -> bool:
        return False


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
        "failure_reason",
        "lease_owner",
        "enqueued_at",
        "finished_at",
    )
    list_filter = ("status", "priority", "failure_reason", "target", "enqueued_at")
    search_fields = ("name", "version", "lease_owner", "error")
    date_hierarchy = "enqueued_at"
    list_select_related = ("target",)
    raw_id_fields = ("plan",)
    readonly_fields = WORKER_OWNED
    inlines = (BuildEventInline,)
    actions = ("retry_jobs", "cancel_jobs", "requeue_expired")

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
