from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from inputs.models import PendingInput
from refinery.lib.priority import Priority


class RequirementsUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
    python_version = serializers.CharField(required=False, max_length=16)
    platform_tag = serializers.CharField(required=False, max_length=64)
    priority = serializers.ChoiceField(
        choices=[str(p.label) for p in Priority], required=False, default="normal"
    )
    strategy = serializers.ChoiceField(choices=["pinned", "eager"], required=False)
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
