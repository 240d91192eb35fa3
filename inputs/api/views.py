from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inputs.api.filters import PendingInputFilter
from inputs.api.serializers import (
    PendingInputDetailSerializer,
    PendingInputSerializer,
    PlanningReportSerializer,
    RequirementsUploadResultSerializer,
    RequirementsUploadSerializer,
)
from inputs.models import PendingInput
from inputs.plan_queue import (
    PlanQueueError,
    heartbeat_planning,
    mark_planning_failed,
    queue_for_planning,
    release_planning,
)
from inputs.priority import Priority
from inputs.services import UploadError, read_limited, upload_requirements
from refinery.lib.api_auth import (
    IsOperator,
    IsReader,
    IsUploader,
    IsWorkerOrOperator,
    UploadThrottle,
    lease_owner,
)
from refinery.lib.api_filters import StrictFilterBackend
from refinery.lib.api_pagination import StrictLimitOffsetPagination
from refinery.lib.api_schema import ErrorSerializer


class RequirementsUploadView(APIView):
    """Upload a requirements file (multipart ``file``); 201 when stored, 200 when identical."""

    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [IsUploader]
    throttle_classes = [UploadThrottle]
    throttle_scope = "uploads"

    @extend_schema(
        request={"multipart/form-data": RequirementsUploadSerializer},
        responses={
            201: RequirementsUploadResultSerializer,
            200: RequirementsUploadResultSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        form = RequirementsUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        upload = data["file"]
        try:
            result = upload_requirements(
                read_limited(upload, upload.name or "requirements.txt", upload.size),
                upload.name or "requirements.txt",
                python_version=data.get("python_version"),
                platform_tag=data.get("platform_tag"),
                priority=Priority.from_name(data["priority"]),
                strategy=data.get("strategy"),
                no_binary=data.get("no_binary"),
                only_binary=data.get("only_binary"),
                overrides=data.get("overrides"),
            )
        except UploadError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        body = {
            "created": result.created,
            "message": result.message,
            "input": PendingInputSerializer(result.pending).data,
        }
        return Response(
            body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )


class PendingInputListView(generics.ListAPIView[PendingInput]):
    """Uploaded inputs, newest first; filter by status, kind, target and upload time."""

    queryset = PendingInput.objects.all()
    serializer_class = PendingInputSerializer
    permission_classes = [IsReader]
    pagination_class = StrictLimitOffsetPagination
    filter_backends = [StrictFilterBackend]
    filterset_class = PendingInputFilter


class PendingInputDetailView(generics.RetrieveAPIView[PendingInput]):
    queryset = PendingInput.objects.all()
    serializer_class = PendingInputDetailSerializer
    permission_classes = [IsReader]


class PendingInputEnqueuePlanView(APIView):
    """Queue an input for planning: a pending one for its first plan, a planned or failed
    one for a new plan version (the input's previous versions are preferred when pinned)."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=None,
        responses={
            200: PendingInputSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        pending = generics.get_object_or_404(PendingInput, pk=pk)
        try:
            pending = queue_for_planning(pending)
        except PlanQueueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(PendingInputSerializer(pending).data)


class PendingInputStatusView(APIView):
    """A plan worker's report on an input it holds: still ``planning`` (extends the lease),
    ``failed`` with the reason, or ``released`` back to the queue unplanned."""

    permission_classes = [IsWorkerOrOperator]

    @extend_schema(
        request=PlanningReportSerializer,
        responses={
            200: PendingInputSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        form = PlanningReportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            worker = lease_owner(request, data["worker"])
        except ValueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        generics.get_object_or_404(PendingInput, pk=pk)
        try:
            if data["status"] == "planning":
                pending = heartbeat_planning(pk, worker)
            elif data["status"] == "failed":
                pending = mark_planning_failed(pk, worker, data["error"])
            else:
                pending = release_planning(pk, worker)
        except PlanQueueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(PendingInputSerializer(pending).data)
