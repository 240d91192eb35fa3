from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from hints.models import Hint
from hints.requeue import requeue_failures_later


@admin.register(Hint)
class HintAdmin(admin.ModelAdmin[Hint]):
    list_display = (
        "name",
        "scope",
        "package",
        "preset",
        "source",
        "enabled",
        "hit_count",
        "success_count",
    )
    list_filter = ("enabled", "source", "scope", "preset")
    search_fields = ("name", "pattern", "package", "description")
    # Counters are written by repair and learning, not by hand.
    readonly_fields = ("hit_count", "success_count", "created_at", "updated_at")
    actions = ("requeue_action",)

    def save_model(
        self, request: HttpRequest, obj: Hint, form: ModelForm[Hint], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        requeue_failures_later(obj)

    @admin.action(description="Re-queue the failed builds these hints match")
    def requeue_action(self, request: HttpRequest, queryset: QuerySet[Hint]) -> None:
        for hint in queryset:
            requeue_failures_later(hint)
        self.message_user(
            request,
            f"re-queueing the failed builds {queryset.count()} hint(s) match (a background task)",
            messages.SUCCESS,
        )
