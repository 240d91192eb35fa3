"""Both queues for operators and dashboards: what waits, statistics, enqueue and clear;
the summary, recent events and history search; and the worker trigger."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds import queue as build_queue
from builds.api.filters import BuildEventFilter
from builds.api.serializers import (
    BuildEventSerializer,
    BuildJobSerializer,
    QueueClearSerializer,
    QueueEnqueueSerializer,
)
from builds.index.catalog import default_target, parse_slug
from builds.models import Artifact, BuildEvent
from builds.stats import build_queue_stats
from builds.worker_trigger import TriggerError, smoke, trigger
from inputs.api.serializers import PendingInputSerializer
from inputs.models import PendingInput
from inputs.plan_queue import (
    PlanQueueError,
    clear_plan_queue,
    plan_queue_stats,
    queue_for_planning,
    waiting_for_planning,
)
from inputs.priority import Priority
from plans.targets import target_row
from refinery.lib.api_auth import IsOperator, IsReader, actor_of
from refinery.lib.api_filters import StrictFilterBackend
from refinery.lib.api_pagination import StrictLimitOffsetPagination
from refinery.lib.api_schema import ErrorSerializer
from refinery.lib.queue_stats import QueueStats

QUEUES = ("build", "plan")


def _stats_json(stats: QueueStats) -> dict[str, Any]:
    age = stats.oldest_waiting_age
    average = stats.average_duration_24h
    return {
        "length": stats.waiting,
        "oldest_age_seconds": None if age is None else round(age.total_seconds(), 1),
        "by_status": stats.depth_by_status,
        "active_leases": stats.active_leases,
        "succeeded_24h": stats.succeeded_24h,
        "failed_24h": stats.failed_24h,
        "average_seconds_24h": None if average is None else round(average.total_seconds(), 1),
    }


_STATS = inline_serializer(
    "QueueStats",
    {
        "length": serializers.IntegerField(),
        "oldest_age_seconds": serializers.FloatField(allow_null=True),
        "by_status": serializers.DictField(child=serializers.IntegerField()),
        "active_leases": serializers.IntegerField(),
        "succeeded_24h": serializers.IntegerField(),
        "failed_24h": serializers.IntegerField(),
        "average_seconds_24h": serializers.FloatField(allow_null=True),
    },
)


def _queue_param(request: Request) -> str | None:
    queue = request.query_params.get("queue", "build")
    return queue if queue in QUEUES else None


class QueueListView(APIView):
    """What waits in a queue (``queue=build``, the default, or ``plan``), in the order it
    will be taken; ``limit``/``offset`` as everywhere."""

    permission_classes = [IsReader]

    @extend_schema(
        parameters=[
            OpenApiParameter("queue", OpenApiTypes.STR, enum=list(QUEUES)),
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses={
            200: inline_serializer(
                "QueueItems",
                {
                    "queue": serializers.CharField(),
                    "count": serializers.IntegerField(),
                    "results": serializers.ListField(child=serializers.DictField()),
                },
            ),
            400: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        queue = _queue_param(request)
        if queue is None:
            return Response(
                {"error": f"queue: expected one of {', '.join(QUEUES)}"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        paginator = StrictLimitOffsetPagination()
        if queue == "build":
            page = paginator.paginate_queryset(waiting_jobs_with_target(), request, view=self) or []
            results = BuildJobSerializer(page, many=True).data
        else:
            inputs = paginator.paginate_queryset(waiting_for_planning(), request, view=self) or []
            results = PendingInputSerializer(inputs, many=True).data
        return Response({"queue": queue, "count": paginator.count, "results": results})


def waiting_jobs_with_target() -> Any:
    return build_queue.waiting_jobs().select_related("target")


class QueueStatsView(APIView):
    """Length and age of the oldest waiting item of both queues, with 24-hour outcomes."""

    permission_classes = [IsReader]

    @extend_schema(
        responses={
            200: inline_serializer("BothQueueStats", {"build": _STATS, "plan": _STATS}),
        }
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "build": _stats_json(build_queue_stats()),
                "plan": _stats_json(plan_queue_stats()),
            }
        )


_ENQUEUED = PolymorphicProxySerializer(
    component_name="Enqueued",
    serializers=[BuildJobSerializer, PendingInputSerializer],
    resource_type_field_name=None,
)


class QueueEnqueueView(APIView):
    """Queue a build of ``name==version`` for a target (default: the default target; one
    already queued is returned, raised to the higher priority), or with ``queue: plan`` an
    input for planning (a planned or failed one for a new plan version)."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=QueueEnqueueSerializer,
        responses={
            201: _ENQUEUED,
            200: _ENQUEUED,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        form = QueueEnqueueSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if data["queue"] == "plan":
            pending = generics.get_object_or_404(PendingInput, pk=data["input_id"])
            try:
                pending = queue_for_planning(pending)
            except PlanQueueError as exc:
                return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
            return Response(PendingInputSerializer(pending).data)
        slug = data.get("target")
        index_target = parse_slug(slug) if slug else default_target()
        if index_target is None:
            return Response(
                {"error": f"target: {slug!r} is not a target such as cp311-manylinux_2_17_s390x"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            target = target_row(index_target.python_version, index_target.platform_tag)
            job, created = build_queue.enqueue(
                data["name"],
                data["version"],
                target,
                priority=Priority.from_name(data["priority"]),
                actor=actor_of(request),
            )
        except build_queue.QueueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            BuildJobSerializer(job).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class QueueClearView(APIView):
    """Empty a queue of what waits: build jobs are cancelled, inputs marked failed (both can
    be queued again). Work in progress is left to finish."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=QueueClearSerializer,
        responses={
            200: inline_serializer(
                "QueueCleared",
                {"queue": serializers.CharField(), "cleared": serializers.IntegerField()},
            ),
            400: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        form = QueueClearSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        queue = form.validated_data["queue"]
        actor = actor_of(request)
        if queue == "build":
            cleared = build_queue.clear_waiting(actor=actor)
        else:
            cleared = clear_plan_queue(actor=actor)
        return Response({"queue": queue, "cleared": cleared})


class SummaryView(APIView):
    """The refinery at a glance: both queues, job counts by status, wheels held."""

    permission_classes = [IsReader]

    @extend_schema(
        responses={
            200: inline_serializer(
                "Summary",
                {
                    "queues": inline_serializer("SummaryQueues", {"build": _STATS, "plan": _STATS}),
                    "builds_by_status": serializers.DictField(child=serializers.IntegerField()),
                    "artifacts": serializers.IntegerField(),
                    "artifacts_built": serializers.IntegerField(),
                    "target": serializers.CharField(),
                },
            ),
        }
    )
    def get(self, request: Request) -> Response:
        build_stats = build_queue_stats()
        return Response(
            {
                "queues": {
                    "build": _stats_json(build_stats),
                    "plan": _stats_json(plan_queue_stats()),
                },
                "builds_by_status": build_stats.depth_by_status,
                "artifacts": Artifact.objects.count(),
                "artifacts_built": Artifact.objects.filter(origin=Artifact.Origin.BUILT).count(),
                "target": default_target().slug,
            }
        )


class RecentView(APIView):
    """The latest build events (``limit``, default 50), newest first."""

    permission_classes = [IsReader]

    @extend_schema(
        parameters=[OpenApiParameter("limit", OpenApiTypes.INT)],
        responses={200: BuildEventSerializer(many=True), 400: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        limit = StrictLimitOffsetPagination().get_limit(request)
        events = BuildEvent.objects.select_related("job").order_by("-created_at", "-id")[:limit]
        return Response(BuildEventSerializer(events, many=True).data)


class HistoryView(generics.ListAPIView[BuildEvent]):
    """Every recorded build event, searchable: ``package``, ``status`` (the status moved
    to; repeatable), ``kind``, ``job``, ``plan``, ``run_id`` (a worker's id), ``q`` (text in
    the message), ``since``/``until``; paginated, newest first."""

    queryset = BuildEvent.objects.select_related("job").order_by("-created_at", "-id")
    serializer_class = BuildEventSerializer
    permission_classes = [IsReader]
    pagination_class = StrictLimitOffsetPagination
    filter_backends = [StrictFilterBackend]
    filterset_class = BuildEventFilter


class TriggerSerializer(serializers.Serializer[Any]):
    action = serializers.ChoiceField(choices=["drain"], default="drain")


class WorkerTriggerView(APIView):
    """Wake the workers: the local cluster (plan and build drains), or the remote worker at
    ``WORKER_WEBHOOK_URL`` with ``{"action": "drain"}`` and the worker token."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=TriggerSerializer,
        responses={
            202: inline_serializer(
                "Triggered", {"mode": serializers.CharField(), "detail": serializers.CharField()}
            ),
            400: ErrorSerializer,
            502: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        form = TriggerSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            result = trigger(form.validated_data["action"])
        except TriggerError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_502_BAD_GATEWAY)
        return Response(
            {"mode": result.mode, "detail": result.detail}, status=status.HTTP_202_ACCEPTED
        )


class WorkerSmokeView(APIView):
    """A dry run of a worker pass: services, runner, images, and what is due — claims
    nothing."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "Smoke",
                {
                    "ok": serializers.BooleanField(),
                    "checks": serializers.DictField(),
                    "runner": serializers.CharField(),
                    "buildable_arches": serializers.ListField(child=serializers.CharField()),
                    "due_builds": serializers.IntegerField(),
                    "waiting_builds": serializers.IntegerField(),
                    "building": serializers.IntegerField(),
                    "waiting_inputs": serializers.IntegerField(),
                    "webhook": serializers.CharField(allow_null=True),
                },
            ),
        },
    )
    def post(self, request: Request) -> Response:
        return Response(smoke())
