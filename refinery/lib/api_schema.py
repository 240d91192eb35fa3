"""What the OpenAPI schema says about our own authentication and error bodies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class WorkerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "refinery.lib.api_auth.WorkerTokenAuthentication"
    name = "workerToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {"type": "apiKey", "in": "header", "name": "X-Worker-Token"}


class ErrorSerializer(serializers.Serializer[Any]):
    """Every 4xx this API answers (ours and DRF's alike): one line naming what was wrong."""

    error = serializers.CharField()
