from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from inputs.models import InputEvent, PendingInput
from inputs.priority import Priority
from inputs.strategy import STRATEGIES


class RequirementsUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
    python_version = serializers.CharField(required=False, max_length=16)
    platform_tag = serializers.CharField(required=False, max_length=64)
    priority = serializers.ChoiceField(
        choices=[str(p.label) for p in Priority], required=False, default="normal"
    )
    strategy = serializers.ChoiceField(choices=STRATEGIES, required=False)
    no_binary = serializers.CharField(
        required=False, max_length=10_000, help_text="as pip's: names, :all: or :none:"
    )
    only_binary = serializers.CharField(
        required=False, max_length=10_000, help_text="as pip's: names, :all: or :none:"
    )
    overrides = serializers.CharField(required=False, help_text="JSON: force/exclude")

    def validate_overrides(self, value: str) -> Any:
        try:
            return json.loads(value)
        except ValueError as exc:
            raise serializers.ValidationError(f"not valid JSON: {exc}") from None


class PendingInputSerializer(serializers.ModelSerializer[PendingInput]):
    priority = serializers.SerializerMethodField()

    class Meta:
        model = PendingInput
        fields = [
            "id",
            "kind",
            "original_filename",
            "sha256",
            "size",
            "status",
            "priority",
            "python_version",
            "platform_tag",
            "error",
            "plan_attempts",
            "lease_owner",
            "lease_expires_at",
            "created_at",
            "updated_at",
        ]

    def get_priority(self, obj: PendingInput) -> str:
        return str(Priority(obj.priority).label)


class RequirementsUploadResultSerializer(serializers.Serializer[Any]):
    created = serializers.BooleanField(help_text="false: an identical file was already stored")
    message = serializers.CharField()
    input = PendingInputSerializer()


class InputEventSerializer(serializers.ModelSerializer[InputEvent]):
    class Meta:
        model = InputEvent
        fields = ["kind", "from_status", "to_status", "actor", "message", "data", "created_at"]


class PendingInputDetailSerializer(PendingInputSerializer):
    """An input with its validated content, the plans made from it (newest first) and its
    trail (status changes, plan leases taken and given back; oldest first)."""

    parsed = serializers.JSONField()
    plans = serializers.SerializerMethodField()
    events = InputEventSerializer(many=True, read_only=True)

    class Meta(PendingInputSerializer.Meta):
        fields = [*PendingInputSerializer.Meta.fields, "parsed", "plans", "events"]

    def get_plans(self, obj: PendingInput) -> list[int]:
        # The reverse relation of the plans app's link table: inputs import no other app.
        return list(obj.plan_links.order_by("-plan_id").values_list("plan_id", flat=True))


PLANNING_REPORTS = ("planning", "failed", "released")


class PlanningReportSerializer(serializers.Serializer[Any]):
    worker = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(
        choices=PLANNING_REPORTS,
        help_text="planning: still at it (extends the lease); failed: with error; "
        "released: give it back unplanned",
    )
    error = serializers.CharField(required=False, allow_blank=True, max_length=20_000, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["status"] == "failed" and not attrs["error"].strip():
            raise serializers.ValidationError({"error": "a failed report needs the reason"})
        return attrs
