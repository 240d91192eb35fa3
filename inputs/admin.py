from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from inputs.forms import RequirementsUploadForm
from inputs.models import InputEvent, PendingInput
from inputs.plan_queue import PlanQueueError, enqueue_plan, replan
from inputs.services import UploadError
from refinery.lib.state_machine import IllegalTransition


class InputEventInline(admin.TabularInline[InputEvent, PendingInput]):
    """The input's trail, read-only: status changes and plan leases."""

    model = InputEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "from_status", "to_status", "actor", "message")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: PendingInput | None = None) -> bool:
        return False


@admin.register(PendingInput)
class PendingInputAdmin(admin.ModelAdmin[PendingInput]):
    list_display = (
        "id",
        "original_filename",
        "kind",
        "status",
        "priority",
        "python_version",
        "platform_tag",
        "size",
        "lease_owner",
        "created_at",
    )
    list_filter = ("status", "kind", "priority", "platform_tag", "created_at")
    search_fields = ("original_filename", "sha256", "error")
    date_hierarchy = "created_at"
    readonly_fields = (
        "kind",
        "original_filename",
        # The target is part of what was uploaded (and of its identity): fixed once stored.
        "python_version",
        "platform_tag",
        "sha256",
        "size",
        "storage_key",
        "parsed",
        "status",
        "error",
        "plan_queued_at",
        "plan_attempts",
        "lease_owner",
        "lease_expires_at",
        "plan_started_at",
        "plan_finished_at",
        "created_at",
        "updated_at",
    )
    inlines = (InputEventInline,)
    actions = ("enqueue_plan_action", "replan_action")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Inputs arrive through the upload view below, which validates them.

    def has_delete_permission(self, request: HttpRequest, obj: PendingInput | None = None) -> bool:
        # A plan worker may hold an input being planned: let it finish or fail first.
        if obj is not None and obj.status == PendingInput.Status.PLANNING:
            return False
        return super().has_delete_permission(request, obj)

    def get_urls(self) -> list[URLPattern]:
        upload = path(
            "upload/",
            self.admin_site.admin_view(self.upload_view),
            name="inputs_pendinginput_upload",
        )
        return [upload, *super().get_urls()]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a requirements file through the same service as the API and the command."""
        if not self.has_view_permission(request) or not request.user.is_staff:
            return HttpResponse(status=403)
        form = RequirementsUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = form.upload()
            except UploadError as exc:
                form.add_error("file", str(exc))
            else:
                level = messages.SUCCESS if result.created else messages.INFO
                self.message_user(request, result.message, level)
                return HttpResponseRedirect(
                    reverse("admin:inputs_pendinginput_change", args=[result.pending.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Upload requirements",
        }
        return TemplateResponse(request, "admin/inputs/pendinginput/upload.html", context)

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[PendingInput],
        operation: Callable[[PendingInput], PendingInput],
        verb: str,
    ) -> None:
        done = 0
        for pending in queryset:
            try:
                operation(pending)
                done += 1
            except (PlanQueueError, IllegalTransition) as exc:
                self.message_user(request, str(exc), messages.WARNING)
        if done:
            self.message_user(
                request, f"{verb}: {done} input(s) queued for planning", messages.SUCCESS
            )

    @admin.action(description="Enqueue selected pending inputs for planning")
    def enqueue_plan_action(self, request: HttpRequest, queryset: QuerySet[PendingInput]) -> None:
        self._each(request, queryset, enqueue_plan, "enqueue plan")

    @admin.action(description="Replan selected inputs")
    def replan_action(self, request: HttpRequest, queryset: QuerySet[PendingInput]) -> None:
        self._each(request, queryset, replan, "replan")
