from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inputs.models import PendingInput
from inputs.plan_queue import PlanQueueError, pop_for_planning
from plans.api.filters import PlanFilter
from plans.api.serializers import (
    PlanSerializer,
    PlanSubmissionSerializer,
    PlanSummarySerializer,
    PopResultSerializer,
)
from plans.models import Plan
from plans.planner import request_for, save_plan
from refinery.lib.api_auth import IsReader, IsWorkerOrOperator, lease_owner
from refinery.lib.api_filters import StrictFilterBackend
from refinery.lib.api_pagination import StrictLimitOffsetPagination
from refinery.lib.api_schema import ErrorSerializer
from refinery.lib.query_params import QueryParamError, integer_param

MAX_POP = 100


def _worker_id(request: Request) -> str:
    """The lease owner for this plan worker: its token's identity and its own id."""
    declared = request.query_params.get("worker") or request.headers.get("X-Worker-Id")
    return lease_owner(request, declared or f"api:{request.META.get('REMOTE_ADDR', 'unknown')}")


class PendingInputPopView(APIView):
    """Lease up to ``max`` queued inputs to a plan worker, with everything needed to plan them."""

    permission_classes = [IsWorkerOrOperator]

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter("max", OpenApiTypes.INT, description=f"1 to {MAX_POP} (default 1)"),
            OpenApiParameter("worker", OpenApiTypes.STR, description="the worker's id"),
        ],
        responses={
            200: PopResultSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        try:
            max_n = integer_param(
                request.query_params, "max", default=1, minimum=1, maximum=MAX_POP
            )
        except QueryParamError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        try:
            worker = _worker_id(request)
        except ValueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        popped = pop_for_planning(worker, max_n)
        items: list[dict[str, Any]] = []
        for pending in popped:
            plan_request = request_for(pending)
            items.append(
                {
                    "id": pending.pk,
                    "worker": worker,
                    "lease_expires_at": pending.lease_expires_at,
                    "python_version": plan_request.python_version,
                    "platform_tag": plan_request.platform_tag,
                    "strategy": plan_request.strategy,
                    "requirements": plan_request.requirements,
                    "overrides": plan_request.overrides,
                    "preferred": plan_request.preferred,
                    "max_deps": plan_request.max_deps,
                    "format_control": plan_request.format_control,
                    "index_url": settings.INDEX_URL,
                    "extra_index_urls": settings.EXTRA_INDEX_URL,
                }
            )
        return Response({"inputs": items})


class PlanListView(generics.ListAPIView[Plan]):
    """Plans, newest first (GET), and a plan worker's new plan (POST)."""

    queryset = Plan.objects.select_related("target").prefetch_related("input_links")
    serializer_class = PlanSummarySerializer
    pagination_class = StrictLimitOffsetPagination
    filter_backends = [StrictFilterBackend]
    filterset_class = PlanFilter

    def get_permissions(self) -> list[Any]:
        if self.request.method == "POST":
            return [IsWorkerOrOperator()]
        return [IsReader()]

    @extend_schema(
        request=PlanSubmissionSerializer,
        responses={
            201: PlanSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        """A plan worker posts the plan it made for an input it leased."""
        form = PlanSubmissionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        # Store the DAG as sent: the validated copy keeps only the checked fields and would
        # drop what planners add for people (why, roles, build_requires).
        dag = request.data["dag"]
        if not PendingInput.objects.filter(pk=data["input_id"]).exists():
            return Response(
                {"error": f"input_id: pending input {data['input_id']} does not exist"},
                status=status.HTTP_404_NOT_FOUND,
            )
        try:
            worker = lease_owner(request, data["worker"])
        except ValueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        try:
            plan = save_plan(data["input_id"], worker, dag=dag, snapshot=data["snapshot"])
        except PlanQueueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(PlanSerializer(plan).data, status=status.HTTP_201_CREATED)


class PlanDetailView(generics.RetrieveAPIView[Plan]):
    """One plan with its DAG and snapshot."""

    queryset = Plan.objects.select_related("target")
    serializer_class = PlanSerializer
    permission_classes = [IsReader]
