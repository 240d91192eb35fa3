"""What remote build workers call: claim jobs, report on them, stream logs, fetch the build
environment's wheels and hand in the wheels they built.

Every report names the worker; the lease is held under the identity of the worker's token
(``refinery.lib.api_auth.lease_owner``), and a report from a worker that does not hold the
job's lease is refused with 409: the lease, not the messenger, decides who builds a job.
"""

from __future__ import annotations

import json
import logging
import platform
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds import queue as build_queue
from builds.claims import ClaimSerializer, claim_to_json
from builds.images import MACHINE_TO_DEBIAN
from builds.index.pages import file_url
from builds.log_sink import LogLimitExceeded, store_chunk
from builds.models import BuildJob
from builds.wheel_upload import WheelConflict, WheelUploadError, store_built_wheel
from builds.worker import ClaimedJob, LocalBuildQueue, build_environment, with_recipe_origins
from refinery.lib import log_context
from refinery.lib.api_auth import IsWorkerOrOperator, lease_owner
from refinery.lib.api_schema import ErrorSerializer
from refinery.lib.query_params import QueryParamError, integer_param
from refinery.lib.state_machine import IllegalTransition

MAX_POP = 100
FILENAME_TAKEN = "filename_taken"
_KNOWN_ARCHES = frozenset(MACHINE_TO_DEBIAN) | {platform.machine()}

logger = logging.getLogger(__name__)


def _error(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"error": message}, status=code)


def _holds_lease(job_id: int, worker: str) -> bool:
    return BuildJob.objects.filter(
        pk=job_id, lease_owner=worker, status__in=BuildJob.LEASED_STATUSES
    ).exists()


def _not_held(job_id: int, worker: str) -> Response:
    job = BuildJob.objects.filter(pk=job_id).only("status", "lease_owner").first()
    if job is None:
        return _error(f"job_id: build job {job_id} does not exist", status.HTTP_404_NOT_FOUND)
    return _error(
        f"build job {job_id} is {job.status} and leased to {job.lease_owner or 'nobody'}, "
        f"not {worker}",
        status.HTTP_409_CONFLICT,
    )


class BuildQueuePopView(APIView):
    """Lease up to ``max`` due jobs to a worker (attempts + 1), highest priority first;
    ``arch`` (repeatable) limits them to targets the worker's runner can build."""

    permission_classes = [IsWorkerOrOperator]

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter("max", OpenApiTypes.INT, description=f"1 to {MAX_POP} (default 1)"),
            OpenApiParameter("worker", OpenApiTypes.STR, description="the worker's id"),
            OpenApiParameter(
                "arch", OpenApiTypes.STR, many=True, description="e.g. s390x; default: any"
            ),
        ],
        responses={
            200: inline_serializer(
                "BuildQueuePop",
                {
                    "jobs": ClaimSerializer(many=True),
                    "lease_seconds": serializers.IntegerField(),
                },
            ),
            400: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        try:
            max_n = integer_param(
                request.query_params, "max", default=1, minimum=1, maximum=MAX_POP
            )
        except QueryParamError as exc:
            return _error(str(exc))
        try:
            worker = lease_owner(request, request.query_params.get("worker", ""))
        except ValueError as exc:
            return _error(str(exc))
        arches = request.query_params.getlist("arch") or None
        unknown = sorted(set(arches or []) - _KNOWN_ARCHES)
        if unknown:
            return _error(f"arch: {unknown[0]!r} is not one of {', '.join(sorted(_KNOWN_ARCHES))}")
        jobs: list[ClaimedJob] = LocalBuildQueue(arches=arches).claim(worker, max_n)
        return Response(
            {
                "jobs": [claim_to_json(job) for job in jobs],
                "lease_seconds": settings.BUILD_LEASE_SEC,
            }
        )


REPORTS = ("heartbeat", "building", "built", "failed", "released")


class BuildReportSerializer(serializers.Serializer[Any]):
    job_id = serializers.IntegerField(min_value=1)
    worker = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(choices=REPORTS)
    reason = serializers.ChoiceField(
        choices=[r for r in BuildJob.FailureReason.values if r], required=False
    )
    error = serializers.CharField(required=False, allow_blank=True, max_length=20_000, default="")
    message = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    runner = serializers.ChoiceField(
        choices=["", "local", "podman"],
        required=False,
        default="",
        help_text="failed: the runner whose build failed (what a repair may ask of it)",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["status"] == "failed" and not attrs.get("reason"):
            raise serializers.ValidationError({"reason": "a failed report needs its reason"})
        return attrs


class BuildStatusView(APIView):
    """A worker's report on a job it holds: ``heartbeat`` (the answer says whether it still
    holds it: ``ok``, or the job's status, e.g. ``cancelled``), ``building``, ``built``,
    ``failed`` (with a reason) or ``released`` (given back unbuilt)."""

    permission_classes = [IsWorkerOrOperator]

    @extend_schema(
        request=BuildReportSerializer,
        responses={
            200: inline_serializer(
                "BuildReportResult",
                {"job_id": serializers.IntegerField(), "state": serializers.CharField()},
            ),
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        form = BuildReportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        job_id, report = data["job_id"], data["status"]
        try:
            worker = lease_owner(request, data["worker"])
        except ValueError as exc:
            return _error(str(exc))
        with log_context.bound_job(job_id):  # what this report logs names the job
            if report != "heartbeat":
                logger.info("job %s: %s reports %s", job_id, worker, report)
            return self._apply(job_id, report, worker, data)

    def _apply(self, job_id: int, report: str, worker: str, data: dict[str, Any]) -> Response:
        queue = LocalBuildQueue()
        if report == "heartbeat":
            state = queue.heartbeat(job_id, worker)
            if state == "gone":
                return _error(f"job_id: build job {job_id} does not exist", 404)
            return Response({"job_id": job_id, "state": state})
        if not _holds_lease(job_id, worker):
            return _not_held(job_id, worker)
        try:
            if report == "building":
                queue.start(job_id, worker)
            elif report == "built":
                queue.complete(job_id, worker, data["message"])
            elif report == "failed":
                queue.fail(
                    job_id,
                    worker,
                    reason=data["reason"],
                    error=data["error"],
                    runner=data["runner"],
                )
            else:
                queue.release(job_id, worker)
        except (IllegalTransition, build_queue.QueueError) as exc:
            return _error(str(exc), status.HTTP_409_CONFLICT)
        state = BuildJob.objects.values_list("status", flat=True).get(pk=job_id)
        return Response({"job_id": job_id, "state": state})


class LogChunkUploadSerializer(serializers.Serializer[Any]):
    job_id = serializers.IntegerField(min_value=1)
    worker = serializers.CharField(max_length=200)
    attempt = serializers.IntegerField(min_value=1)
    seq = serializers.IntegerField(min_value=0)
    text = serializers.CharField(max_length=1_000_000, trim_whitespace=False)


class LogStreamView(APIView):
    """Append a chunk of a running build's output. Chunks are numbered per attempt; sending
    one again (a retry after a lost answer) is acknowledged and stores nothing twice."""

    permission_classes = [IsWorkerOrOperator]

    @extend_schema(
        request=LogChunkUploadSerializer,
        responses={
            201: inline_serializer("LogChunkStored", {"stored": serializers.BooleanField()}),
            200: inline_serializer("LogChunkKnown", {"stored": serializers.BooleanField()}),
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            413: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        form = LogChunkUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            worker = lease_owner(request, data["worker"])
        except ValueError as exc:
            return _error(str(exc))
        if not _holds_lease(data["job_id"], worker):
            return _not_held(data["job_id"], worker)
        try:
            stored = store_chunk(data["job_id"], data["attempt"], data["seq"], data["text"])
        except LogLimitExceeded as exc:
            return _error(str(exc), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        if not stored:
            return Response({"stored": False}, status=status.HTTP_200_OK)
        return Response({"stored": True}, status=status.HTTP_201_CREATED)


class WheelhouseView(APIView):
    """The job's build environment: ``name==version`` pins and our wheels of them, with the
    URLs to fetch them from (each verified by its sha256)."""

    permission_classes = [IsWorkerOrOperator]

    @extend_schema(
        parameters=[OpenApiParameter("worker", OpenApiTypes.STR, required=True)],
        responses={
            200: inline_serializer(
                "Wheelhouse",
                {
                    "pins": serializers.ListField(child=serializers.CharField()),
                    "wheels": inline_serializer(
                        "WheelhouseWheel",
                        {
                            "filename": serializers.CharField(),
                            "sha256": serializers.CharField(),
                            "url": serializers.URLField(),
                        },
                        many=True,
                    ),
                },
            ),
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        try:
            worker = lease_owner(request, request.query_params.get("worker", ""))
        except ValueError as exc:
            return _error(str(exc))
        if not _holds_lease(pk, worker):
            return _not_held(pk, worker)
        pins, wheels = build_environment(pk)
        return Response(
            {
                "pins": pins,
                "wheels": [
                    {
                        "filename": wheel.filename,
                        "sha256": wheel.sha256,
                        "url": request.build_absolute_uri(
                            "/" + file_url(wheel).removeprefix("../../")
                        ),
                    }
                    for wheel in wheels
                ],
            }
        )


class BuiltWheelSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
    worker = serializers.CharField(max_length=200)
    provenance = serializers.CharField(
        required=False, default="{}", help_text="JSON object: how the wheel was built"
    )

    def validate_provenance(self, value: str) -> dict[str, Any]:
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise serializers.ValidationError(f"not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise serializers.ValidationError("must be a JSON object")
        return parsed


class BuiltWheelView(APIView):
    """Hand in a wheel built (and repaired) for a job the worker holds; it is checked like
    any upload and stored content-addressed."""

    permission_classes = [IsWorkerOrOperator]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": BuiltWheelSerializer},
        responses={
            201: inline_serializer("BuiltWheelStored", {"sha256": serializers.CharField()}),
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        form = BuiltWheelSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            worker = lease_owner(request, data["worker"])
        except ValueError as exc:
            return _error(str(exc))
        if not _holds_lease(pk, worker):
            return _not_held(pk, worker)
        upload = data["file"]
        job = BuildJob.objects.select_related("target").get(pk=pk)
        try:
            provenance = with_recipe_origins(data["provenance"], job)
            artifact = store_built_wheel(job, upload, upload.name or "", provenance)
        except WheelConflict as exc:
            # Not a lost lease: the worker keeps the published file (see HttpBuildQueue).
            return Response(
                {
                    "error": f"file: {exc}",
                    "code": FILENAME_TAKEN,
                    "published_sha256": exc.published_sha256,
                },
                status=status.HTTP_409_CONFLICT,
            )
        except WheelUploadError as exc:
            return _error(f"file: {exc}")
        return Response({"sha256": artifact.sha256}, status=status.HTTP_201_CREATED)
