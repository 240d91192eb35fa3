from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name
from rest_framework import serializers

from hints.models import Hint


class HintSerializer(serializers.ModelSerializer[Hint]):
    """A hint: the log regex (must compile) and its recipes (checked against the recipe
    schema, so nothing an operator types can redirect or subvert a build)."""

    class Meta:
        model = Hint
        fields = (
            "id",
            "name",
            "description",
            "pattern",
            "recipes",
            "scope",
            "package",
            "preset",
            "enabled",
            "source",
            "hit_count",
            "success_count",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("source", "hit_count", "success_count", "created_at", "updated_at")

    def validate_package(self, value: str) -> str:
        return canonicalize_name(value) if value.strip() else ""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        scope = attrs.get("scope", self.instance.scope if self.instance else Hint.Scope.GLOBAL)
        package = attrs.get("package", self.instance.package if self.instance else "")
        if scope == Hint.Scope.PACKAGE and not package:
            raise serializers.ValidationError({"package": "a package-scoped hint needs one"})
        if scope == Hint.Scope.GLOBAL and package:
            raise serializers.ValidationError({"package": "a global hint must not name one"})
        pattern = attrs.get("pattern", self.instance.pattern if self.instance else "")
        if scope == Hint.Scope.GLOBAL and not pattern.strip():
            raise serializers.ValidationError({"pattern": "a global hint needs a pattern"})
        return attrs
