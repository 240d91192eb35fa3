from __future__ import annotations

import json

from django.core.files.storage import default_storage
from django.shortcuts import get_object_or_404
from django_q.tasks import async_task
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds.api.filters import ArtifactFilter
from builds.api.serializers import (
    ArtifactSerializer,
    ManifestLinkSerializer,
    WheelUploadResultSerializer,
    WheelUploadSerializer,
    YankResultSerializer,
    YankSerializer,
)
from builds.index import publishing
from builds.index.catalog import target_for_slug
from builds.manifest import manifest_key, write_manifest
from builds.models import Artifact
from builds.wheel_upload import WheelConflict, WheelUploadError, upload_wheel
from plans.models import Plan
from refinery.lib.api_auth import IsOperator, IsReader, IsUploader, UploadThrottle
from refinery.lib.api_filters import StrictFilterBackend
from refinery.lib.api_pagination import StrictLimitOffsetPagination
from refinery.lib.api_schema import ErrorSerializer


class WheelUploadView(APIView):
    """Upload a wheel (multipart ``file``, optional ``target``); 201 stored, 200 already there."""

    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [IsUploader]
    throttle_classes = [UploadThrottle]
    throttle_scope = "uploads"

    @extend_schema(
        request={"multipart/form-data": WheelUploadSerializer},
        responses={
            201: WheelUploadResultSerializer,
            200: WheelUploadResultSerializer,
            400: ErrorSerializer,
            409: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        form = WheelUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
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
        except WheelConflict as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
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

    permission_classes = [IsOperator]

    @extend_schema(
        request=YankSerializer,
        responses={
            200: YankResultSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        artifact = get_object_or_404(Artifact, pk=pk)
        form = YankSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        changed = publishing.yank(artifact, form.validated_data["reason"])
        return Response({"changed": changed, "artifact": ArtifactSerializer(artifact).data})


class ArtifactUnyankView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(request=None, responses={200: YankResultSerializer, 404: ErrorSerializer})
    def post(self, request: Request, pk: int) -> Response:
        artifact = get_object_or_404(Artifact, pk=pk)
        changed = publishing.unyank(artifact)
        return Response({"changed": changed, "artifact": ArtifactSerializer(artifact).data})


class ArtifactListView(generics.ListAPIView[Artifact]):
    """Wheels in our store with their download links. Filters: ``package``, ``version``,
    ``origin`` (built, reused, uploaded), ``yanked``, ``platform_tag``, ``sha256``."""

    # METADATA can be large and no listing shows it.
    queryset = (
        Artifact.objects.select_related("target")
        .defer("core_metadata")
        .order_by("name", "version", "filename")
    )
    serializer_class = ArtifactSerializer
    permission_classes = [IsReader]
    pagination_class = StrictLimitOffsetPagination
    filter_backends = [StrictFilterBackend]
    filterset_class = ArtifactFilter


class ArtifactDetailView(generics.RetrieveAPIView[Artifact]):
    queryset = Artifact.objects.select_related("target").defer("core_metadata")
    serializer_class = ArtifactSerializer
    permission_classes = [IsReader]


class ManifestListView(generics.ListAPIView[Plan]):
    """Every plan's manifest, newest plan first, with its URL."""

    queryset = Plan.objects.select_related("target")
    serializer_class = ManifestLinkSerializer
    permission_classes = [IsReader]
    pagination_class = StrictLimitOffsetPagination


class ManifestView(APIView):
    """A plan's manifest: every node, its build status and the wheels we hold for it, each
    with its download link."""

    permission_classes = [IsReader]

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        plan = get_object_or_404(Plan.objects.select_related("target"), pk=pk)
        key = manifest_key(plan)
        if not default_storage.exists(key):
            key = write_manifest(plan)
        with default_storage.open(key) as handle:
            document = json.load(handle)
        for node in document.get("nodes", []):
            for wheel in node.get("wheels", []):
                wheel["url"] = f"/files/{wheel['sha256']}/{wheel['filename']}"
        return Response(document)


class ArtifactReproduceView(APIView):
    """Rebuild a built artifact from its provenance in the background and compare the bytes;
    the verdict appears on the artifact (``reproducible``, ``reproduction``)."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=None,
        responses={202: ArtifactSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        artifact = get_object_or_404(Artifact, pk=pk)
        if artifact.origin != Artifact.Origin.BUILT:
            return Response(
                {"error": f"{artifact.filename} was not built here ({artifact.origin})"},
                status=status.HTTP_409_CONFLICT,
            )
        async_task(
            "builds.tasks.reproduce_artifact", artifact.pk, task_name=f"reproduce {artifact.pk}"
        )
        return Response(ArtifactSerializer(artifact).data, status=status.HTTP_202_ACCEPTED)
