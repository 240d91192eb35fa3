from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds.api.serializers import (
    ArtifactSerializer,
    WheelUploadResultSerializer,
    WheelUploadSerializer,
    YankResultSerializer,
    YankSerializer,
)
from builds.index import publishing
from builds.index.catalog import target_for_slug
from builds.models import Artifact
from builds.wheel_upload import WheelUploadError, upload_wheel
from refinery.lib.api_auth import IsWorkerOrStaff
from refinery.lib.api_errors import first_error
from refinery.lib.api_schema import ErrorSerializer

_REFUSALS = {401: ErrorSerializer, 403: ErrorSerializer}


class WheelUploadView(APIView):
    """Upload a wheel (multipart ``file``, optional ``target``); 201 stored, 200 already there."""

    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [IsWorkerOrStaff]

    @extend_schema(
        request={"multipart/form-data": WheelUploadSerializer},
        responses={
            201: WheelUploadResultSerializer,
            200: WheelUploadResultSerializer,
            400: ErrorSerializer,
            **_REFUSALS,
        },
    )
    def post(self, request: Request) -> Response:
        form = WheelUploadSerializer(data=request.data)
        if not form.is_valid():
            return Response({"error": first_error(form.errors)}, status=status.HTTP_400_BAD_REQUEST)
        data = form.validated_data
        slug = data.get("target")
        target = target_for_slug(slug)
        if target is None:
            return Response(
                {"error": f"target: no index for {slug!r}"}, status=status.HTTP_400_BAD_REQUEST
            )
        upload = data["file"]
        try:
            uploader = request.user.get_username() if request.user else ""
            result = upload_wheel(
                upload, upload.name or "", target=target, uploader=uploader or "worker"
            )
        except WheelUploadError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "created": result.created,
                "message": result.message,
                "artifact": ArtifactSerializer(result.artifact).data,
            },
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class ArtifactYankView(APIView):
    """Yank (PEP 592) a stored file: pip and uv skip it unless it is pinned exactly."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        request=YankSerializer,
        responses={
            200: YankResultSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            **_REFUSALS,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        artifact = get_object_or_404(Artifact, pk=pk)
        form = YankSerializer(data=request.data)
        if not form.is_valid():
            return Response({"error": first_error(form.errors)}, status=status.HTTP_400_BAD_REQUEST)
        changed = publishing.yank(artifact, form.validated_data["reason"])
        return Response({"changed": changed, "artifact": ArtifactSerializer(artifact).data})


class ArtifactUnyankView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=None, responses={200: YankResultSerializer, 404: ErrorSerializer, **_REFUSALS}
    )
    def post(self, request: Request, pk: int) -> Response:
        artifact = get_object_or_404(Artifact, pk=pk)
        changed = publishing.unyank(artifact)
        return Response({"changed": changed, "artifact": ArtifactSerializer(artifact).data})
