from __future__ import annotations

from django.contrib import admin

from plans.models import Plan, PlanInput, Target


class PlanInputInline(admin.TabularInline[PlanInput, Plan]):
    model = PlanInput
    extra = 0
    fields = ("input", "version", "status", "created_at")
    readonly_fields = fields
    can_delete = False


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin[Target]):
    list_display = ("id", "python_version", "platform_tag", "created_at")
    search_fields = ("python_version", "platform_tag")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin[Plan]):
    list_display = ("id", "target", "strategy", "priority", "status", "created_at")
    list_filter = ("status", "strategy", "target", "created_at")
    search_fields = ("id", "input_links__input__original_filename")
    list_select_related = ("target",)
    # Plans are written by the planner; the DAG is shown, not edited.
    readonly_fields = (
        "target",
        "strategy",
        "status",
        "snapshot",
        "dag",
        "created_at",
        "updated_at",
    )
    inlines = (PlanInputInline,)
    actions: tuple[str, ...] = ()

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(PlanInput)
class PlanInputAdmin(admin.ModelAdmin[PlanInput]):
    list_display = ("id", "input", "plan", "version", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("input__original_filename",)
    readonly_fields = ("input", "plan", "version", "status", "created_at", "updated_at")
    list_select_related = ("input", "plan", "plan__target")

    def has_add_permission(self, request: object) -> bool:
        return False
