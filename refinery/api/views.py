"""Operational endpoints: liveness, readiness (for load balancers and orchestrators) and
the configuration view."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds.health_checks import readiness
from refinery.config_view import public_config
from refinery.lib.api_auth import IsWorkerOrStaff
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
    """What the refinery is configured to do (never a secret)."""

    permission_classes = [IsWorkerOrStaff]

    @extend_schema(
        responses={
            200: ConfigSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
        }
    )
    def get(self, request: Request) -> Response:
        return Response(public_config())
