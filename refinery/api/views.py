"""Operational endpoints: liveness, readiness (for load balancers and orchestrators) and
the configuration view."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds.health_checks import readiness
from refinery import runtime_settings
from refinery.config_view import public_config
from refinery.lib.api_auth import IsOperator, IsReader
from refinery.lib.api_schema import ErrorSerializer

_CHECK = inline_serializer(
    "ReadinessCheck", {"ok": serializers.BooleanField(), "detail": serializers.CharField()}
)
_READY = inline_serializer(
    "Readiness",
    {"ready": serializers.BooleanField(), "checks": serializers.DictField(child=_CHECK)},
)


class HealthView(APIView):
    """Liveness: the process answers HTTP (it checks nothing else)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(
        responses={200: inline_serializer("Health", {"status": serializers.CharField()})}
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadyView(APIView):
    """Readiness: the database, the broker, storage and (with RUNNER=podman) podman answer;
    503 with the failing check named when one does not."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(responses={200: _READY, 503: _READY})
    def get(self, request: Request) -> Response:
        checks = readiness()
        body = {
            "ready": all(ok for _, ok, _ in checks),
            "checks": {what: {"ok": ok, "detail": detail} for what, ok, detail in checks},
        }
        return Response(
            body,
            status=status.HTTP_200_OK if body["ready"] else status.HTTP_503_SERVICE_UNAVAILABLE,
        )


class ConfigSerializer(serializers.Serializer[Any]):
    target = serializers.DictField()
    planning = serializers.DictField()
    building = serializers.DictField()
    storage = serializers.DictField()
    environment = serializers.DictField()


class ConfigView(APIView):
    """What the refinery is configured to do (never a secret): target, planning and build
    settings, storage and environment, with runtime settings applied."""

    permission_classes = [IsReader]

    @extend_schema(responses={200: ConfigSerializer})
    def get(self, request: Request) -> Response:
        return Response(public_config())


_SETTING = inline_serializer(
    "RuntimeSetting",
    {
        "value": serializers.JSONField(),
        "default": serializers.JSONField(help_text="the environment's value"),
        "overridden": serializers.BooleanField(),
        "updated_at": serializers.DateTimeField(allow_null=True),
        "updated_by": serializers.CharField(),
        "help": serializers.CharField(),
    },
)
_SETTINGS = inline_serializer(
    "RuntimeSettings",
    {
        "values": serializers.DictField(child=serializers.JSONField()),
        "settings": serializers.DictField(child=_SETTING),
    },
)


def _settings_body() -> dict[str, Any]:
    states = runtime_settings.describe()
    return {
        "values": {state.key: state.value for state in states},
        "settings": {
            state.key: {
                "value": state.value,
                "default": state.default,
                "overridden": state.overridden,
                "updated_at": state.updated_at,
                "updated_by": state.updated_by,
                "help": state.help,
            }
            for state in states
        },
    }


class SettingsView(APIView):
    """Runtime settings: ``auto_plan``, ``auto_build``, ``plan_pool_size``,
    ``build_pool_size``, ``python_version``, ``platform_tag`` and ``upgrade_strategy``.

    A change (PUT or PATCH with ``{"auto_build": false}``; ``null`` restores the
    environment's value) takes effect on the next upload, plan or worker pass, in every
    process within a few seconds; remote workers read these too. All values of a request
    are applied, or none when one is invalid."""

    permission_classes = [IsOperator]

    @extend_schema(responses={200: _SETTINGS})
    def get(self, request: Request) -> Response:
        return Response(_settings_body())

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: _SETTINGS, 400: ErrorSerializer},
    )
    def patch(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            return Response(
                {"error": 'send a JSON object of settings, e.g. {"auto_build": false}'},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            runtime_settings.update(dict(request.data), actor=request.user.get_username())
        except runtime_settings.SettingsError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(_settings_body())

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: _SETTINGS, 400: ErrorSerializer},
    )
    def put(self, request: Request) -> Response:
        return self.patch(request)


def api_not_found(request: HttpRequest, path: str) -> JsonResponse:
    """Every /api/ path that names no endpoint: the API's error shape, not an HTML page."""
    return JsonResponse({"error": f"no API endpoint at /api/{path}"}, status=404)
