from __future__ import annotations

from django.contrib import admin

from hints.models import Hint


@admin.register(Hint)
class HintAdmin(admin.ModelAdmin[Hint]):
    list_display = ("name", "scope", "package", "source", "enabled", "hit_count", "success_count")
    list_filter = ("enabled", "source", "scope")
    search_fields = ("name", "pattern", "package", "description")
    # Counters are written by the log matcher, not by hand.
    readonly_fields = ("hit_count", "success_count", "created_at", "updated_at")
