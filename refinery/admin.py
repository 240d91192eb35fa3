from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from refinery.models import WorkerToken
from refinery.worker_tokens import revoke_worker_token


@admin.register(WorkerToken)
class WorkerTokenAdmin(admin.ModelAdmin[WorkerToken]):
    """Tokens are made with ``manage.py worker_token create NAME`` (the key is shown once
    there); here they are listed and revoked."""

    list_display = ("name", "revoked", "created_at", "last_used_at")
    list_filter = ("revoked",)
    readonly_fields = ("name", "key_digest", "created_at", "last_used_at", "revoked")
    actions = ("revoke_action",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WorkerToken | None = None) -> bool:
        return False  # revoked, not deleted: past leases still name it

    @admin.action(description="Revoke selected worker tokens")
    def revoke_action(self, request: HttpRequest, queryset: QuerySet[WorkerToken]) -> None:
        done = sum(revoke_worker_token(token.name) for token in queryset)
        self.message_user(request, f"revoked {done} worker token(s)", messages.SUCCESS)
