"""Admin for subscriptions and their delivery log; the same rules and actions as the API."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from builds.models import Delivery, DeliveryAttempt, Subscription
from builds.notifications import event_types
from builds.notifications.subscriptions import (
    SubscriptionError,
    check_destination,
    clean_events,
    clean_package,
    enable,
    redeliver,
)


class SubscriptionForm(forms.ModelForm[Subscription]):
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in event_types.ALL], widget=forms.CheckboxSelectMultiple
    )
    url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=2000,
        widget=forms.URLInput(attrs={"size": 70}),
        help_text="Webhooks: http or https, to a public address unless WEBHOOK_ALLOW_PRIVATE.",
    )
    secret = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 70}),
        help_text="Webhooks: whsec_ and the key in base64 (Standard Webhooks); left empty, "
        "one is made for you.",
    )

    class Meta:
        model = Subscription
        fields = ("kind", "url", "secret", "email", "events", "target", "package", "active")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind", "")
        try:
            url, secret, email = check_destination(
                kind, data.get("url", ""), data.get("secret", ""), data.get("email", "")
            )
            data.update(url=url, secret=secret, email=email)
            data["events"] = clean_events(kind, list(data.get("events") or []))
            data["package"] = clean_package(data.get("package", ""))
        except SubscriptionError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        return data


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin[Subscription]):
    form = SubscriptionForm
    list_display = ("id", "destination", "event_list", "only", "active", "failures")
    list_filter = ("kind", "active")
    list_select_related = ("target",)
    readonly_fields = ("consecutive_failures", "disabled_at", "disabled_reason", "created_by")
    actions = ("enable_subscriptions",)

    @admin.display(description="events")
    def event_list(self, subscription: Subscription) -> str:
        return ", ".join(subscription.events)

    @admin.display(description="only")
    def only(self, subscription: Subscription) -> str:
        scope = [str(subscription.target) if subscription.target_id else "", subscription.package]
        return " ".join(part for part in scope if part) or "-"

    @admin.display(description="failures")
    def failures(self, subscription: Subscription) -> str:
        if subscription.active:
            return str(subscription.consecutive_failures)
        return f"off: {subscription.disabled_reason[:80]}"

    def save_model(
        self,
        request: HttpRequest,
        obj: Subscription,
        form: forms.ModelForm[Subscription],
        change: bool,
    ) -> None:
        if not change:
            obj.created_by = f"admin:{request.user.get_username()}"
        reenabled = change and "active" in form.changed_data and obj.active
        super().save_model(request, obj, form, change)
        if reenabled:
            enable(obj)

    @admin.action(description="Enable (failure count starts over)")
    def enable_subscriptions(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset:
            enable(subscription)
        self.message_user(request, f"{queryset.count()} subscription(s) enabled")


class DeliveryAttemptInline(admin.TabularInline[DeliveryAttempt, Delivery]):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "status_code", "latency_ms", "error", "response_excerpt")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin[Delivery]):
    list_display = (
        "id",
        "event",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "last_latency_ms",
        "last_error",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "notification__event", "subscription")
    list_select_related = ("notification", "subscription")
    # The change view is read-only (no change permission); the payload is shown formatted.
    readonly_fields = ("payload",)
    inlines = (DeliveryAttemptInline,)
    actions = ("redeliver_action",)

    @admin.display(description="event")
    def event(self, delivery: Delivery) -> str:
        return delivery.notification.event

    @admin.display(description="payload")
    def payload(self, delivery: Delivery) -> str:
        text = json.dumps(delivery.notification.payload, indent=2, sort_keys=True)
        return format_html('<pre class="small">{}</pre>', text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False  # a record of what was sent; redelivery is an action

    @admin.action(description="Redeliver now (same webhook-id)")
    def redeliver_action(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        try:
            count = redeliver(list(queryset.select_related("subscription")))
        except SubscriptionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"{count} delivery(ies) queued to be sent again")
