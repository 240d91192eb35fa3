"""Subscriptions and their deliveries over the API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from builds.models import Delivery, DeliveryAttempt, Subscription
from builds.notifications import event_types
from builds.notifications.subscriptions import (
    SubscriptionError,
    check_destination,
    check_target,
    clean_events,
    clean_package,
    target_for,
)


class SubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    """A webhook (``url``, ``secret`` in ``whsec_<base64>`` form, made when not given and
    shown only in the answer to the POST that made it) or an email address, the ``events``
    it wants, and optionally one ``target`` (e.g. ``cp311-manylinux_2_17_s390x``) and one
    ``package``."""

    events = serializers.ListField(
        child=serializers.ChoiceField(choices=event_types.ALL), allow_empty=False
    )
    target = serializers.CharField(required=False, allow_blank=True, default="")
    secret = serializers.CharField(
        required=False, allow_blank=True, default="", write_only=True, max_length=200
    )

    class Meta:
        model = Subscription
        fields = (
            "id",
            "kind",
            "url",
            "secret",
            "email",
            "events",
            "target",
            "package",
            "active",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_by",
            "created_at",
        )
        read_only_fields = (
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_by",
            "created_at",
        )

    def to_representation(self, instance: Subscription) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["target"] = str(instance.target) if instance.target_id else ""
        if self.context.get("reveal_secret"):
            data["secret"] = instance.secret
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance
        kind = attrs.get("kind", current.kind if current else "")
        try:
            if current is not None and "kind" in attrs and attrs["kind"] != current.kind:
                raise SubscriptionError("kind", "the kind of a subscription cannot change")
            attrs["events"] = clean_events(
                kind, attrs.get("events", current.events if current else [])
            )
            if "package" in attrs:
                attrs["package"] = clean_package(attrs["package"])
            slug = attrs.pop("target", None)
            if slug:
                check_target(slug.strip())
            url, secret, email = check_destination(
                kind,
                attrs.get("url", current.url if current else ""),
                attrs.get("secret") or (current.secret if current else ""),
                attrs.get("email", current.email if current else ""),
            )
            attrs.update(url=url, secret=secret, email=email)
            if slug is not None:  # made only once everything else is known to be right
                attrs["target"] = target_for(slug.strip()) if slug.strip() else None
        except SubscriptionError as exc:
            raise serializers.ValidationError({exc.field: [str(exc)]}) from None
        return attrs


class DeliveryAttemptSerializer(serializers.ModelSerializer[DeliveryAttempt]):
    class Meta:
        model = DeliveryAttempt
        fields = (
            "number",
            "started_at",
            "status_code",
            "latency_ms",
            "error",
            "response_excerpt",
            "request_headers",
        )


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    event = serializers.CharField(source="notification.event", read_only=True)
    message_id = serializers.CharField(source="notification.message_id", read_only=True)

    class Meta:
        model = Delivery
        fields: tuple[str, ...] = (
            "id",
            "subscription",
            "event",
            "message_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_latency_ms",
            "last_error",
            "delivered_at",
            "created_at",
        )


class DeliveryDetailSerializer(DeliverySerializer):
    attempts_log = DeliveryAttemptSerializer(source="attempt_log", many=True, read_only=True)
    payload = serializers.JSONField(source="notification.payload", read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = (*DeliverySerializer.Meta.fields, "payload", "attempts_log")
