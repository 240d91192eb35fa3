"""Build jobs for operators: list and inspect them, cancel or retry one, and enqueue a
plan's builds (all of them, or one node)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds import queue as build_queue
from builds import repairs
from builds.api.filters import BuildJobFilter
from builds.api.serializers import (
    BuildJobDetailSerializer,
    BuildJobSerializer,
    EnqueueNodeSerializer,
    EnqueueSummarySerializer,
    RetrySerializer,
)
from builds.models import BuildEvent, BuildJob
from builds.plan_builds import EnqueueSummary, enqueue_plan_builds
from plans.models import Plan
from refinery.lib.api_auth import IsOperator, IsReader, actor_of
from refinery.lib.api_filters import StrictFilterBackend
from refinery.lib.api_pagination import StrictLimitOffsetPagination
from refinery.lib.api_schema import ErrorSerializer
from refinery.lib.state_machine import IllegalTransition


class BuildListView(generics.ListAPIView[BuildJob]):
    """Build jobs, newest first. Filters: ``package``, ``version``, ``status`` (repeatable),
    ``failure_reason``, ``plan``, ``run_id`` (a worker's id), ``since``/``until`` (ISO
    8601, on the enqueue time); ``limit`` (default 50, at most 500) and ``offset``."""

    queryset = BuildJob.objects.select_related("target")
    serializer_class = BuildJobSerializer
    permission_classes = [IsReader]
    pagination_class = StrictLimitOffsetPagination
    filter_backends = [StrictFilterBackend]
    filterset_class = BuildJobFilter


class BuildDetailView(generics.RetrieveAPIView[BuildJob]):
    """One job with its timeline, its wheels and where to read its log."""

    queryset = BuildJob.objects.select_related("target").prefetch_related(
        Prefetch("events", queryset=BuildEvent.objects.select_related("job")),
        "artifacts__target",
    )
    serializer_class = BuildJobDetailSerializer
    permission_classes = [IsReader]


class _JobActionView(APIView, ABC):
    """POST runs the view's queue operation on the job, in the caller's name."""

    permission_classes = [IsOperator]

    @abstractmethod
    def act(self, job: BuildJob, actor: str) -> BuildJob: ...

    @extend_schema(
        request=None,
        responses={
            200: BuildJobSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        job = generics.get_object_or_404(BuildJob.objects.select_related("target"), pk=pk)
        try:
            job = self.act(job, actor_of(request))
        except (build_queue.QueueError, IllegalTransition) as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(BuildJobSerializer(job).data)


class BuildCancelView(_JobActionView):
    """Cancel an active job; a worker building it stops at its next heartbeat."""

    def act(self, job: BuildJob, actor: str) -> BuildJob:
        return build_queue.cancel(job, actor=actor)


class BuildRetryView(APIView):
    """Queue a failed, cancelled, missing or skipped job again with fresh attempts; with
    ``recipes``, built with those from now on (and, once it builds, learned as the
    package's ``auto`` hint)."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=RetrySerializer,
        responses={
            200: BuildJobSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        job = generics.get_object_or_404(BuildJob.objects.select_related("target"), pk=pk)
        form = RetrySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        recipes = form.validated_data.get("recipes")
        try:
            if recipes is None:
                job = build_queue.retry(job, actor=actor_of(request))
            else:
                job = repairs.retry_with_recipes(job, recipes, actor=actor_of(request))
        except (build_queue.QueueError, IllegalTransition) as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(BuildJobSerializer(job).data)


def _summary_json(summary: EnqueueSummary) -> dict[str, Any]:
    return {
        "enqueued": [job.pk for job in summary.enqueued],
        "already_queued": [job.pk for job in summary.already_queued],
        "recorded": [job.pk for job in summary.recorded],
        "skipped": summary.skipped,
        "unavailable": summary.unavailable,
        "message": str(summary),
    }


class PlanEnqueueBuildsView(APIView):
    """Enqueue every node of a plan: build jobs for what must be built, ``reused``/``cached``
    records for the rest. Safe to repeat."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=None,
        responses={
            200: EnqueueSummarySerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        plan = generics.get_object_or_404(Plan, pk=pk)
        try:
            summary = enqueue_plan_builds(plan, actor=actor_of(request))
        except build_queue.QueueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(_summary_json(summary))


class PlanEnqueueBuildView(APIView):
    """Enqueue one node of a plan, given as ``name==version``."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=EnqueueNodeSerializer,
        responses={
            200: EnqueueSummarySerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        form = EnqueueNodeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        plan = generics.get_object_or_404(Plan, pk=pk)
        node = form.validated_data["node"].strip()
        if node not in {f"{n['name']}=={n['version']}" for n in plan.nodes()}:
            return Response(
                {"error": f"node: {node!r} is not a node of plan {plan.pk}"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            summary = enqueue_plan_builds(plan, actor=actor_of(request), node=node)
        except build_queue.QueueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(_summary_json(summary))
