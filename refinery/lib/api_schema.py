"""What the OpenAPI schema says about our own authentication and error bodies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class WorkerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "refinery.lib.api_auth.WorkerTokenAuthentication"
    name = "workerToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {"type": "apiKey", "in": "header", "name": "X-Worker-Token"}


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "refinery.lib.api_auth.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "an API token"}


class ErrorSerializer(serializers.Serializer[Any]):
    """Every 4xx this API answers (ours and DRF's alike): one line naming what was wrong."""

    error = serializers.CharField()


class RefineryAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the refusals every protected endpoint can answer, so
    the document (and schemathesis checking it) knows them: 401/403 wherever credentials
    may be needed, 400 where filters or paging are parsed, 404 on object views."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        bodies: dict[str, Any] = super()._get_response_bodies(direction)
        view = self.view
        codes = []
        if not all(p is AllowAny for p in view.permission_classes):
            codes += ["401", "403"]
        if getattr(view, "filterset_class", None) or getattr(view, "pagination_class", None):
            codes.append("400")
        if "{id}" in self.path or "{pk}" in self.path:
            codes.append("404")
        if getattr(view, "throttle_classes", None) and self.method == "POST":
            codes.append("429")
        for code in codes:
            if code not in bodies:
                bodies[code] = self._error_body(code)
        return bodies

    def _error_body(self, code: str) -> Any:
        return self._get_response_for_code(ErrorSerializer, code)  # type: ignore[no-untyped-call]
