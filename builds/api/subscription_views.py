"""Notifications over the API (staff only): subscriptions, their deliveries and the attempt
log, and redelivery."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds.api.subscription_serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    SubscriptionSerializer,
)
from builds.models import Delivery, Subscription
from builds.notifications.subscriptions import SubscriptionError, enable, redeliver
from refinery.lib.api_auth import IsStaff, actor_of
from refinery.lib.api_filters import StrictFilterBackend
from refinery.lib.api_pagination import StrictLimitOffsetPagination
from refinery.lib.api_schema import ErrorSerializer


class SubscriptionListView(generics.ListCreateAPIView[Subscription]):
    """Subscriptions (GET; filter ``kind``, ``active``), or a new one (POST): the answer
    carries its ``id`` and its ``secret`` (the only time the secret is shown)."""

    queryset = Subscription.objects.select_related("target")
    serializer_class = SubscriptionSerializer
    permission_classes = [IsStaff]
    pagination_class = StrictLimitOffsetPagination
    filter_backends = [StrictFilterBackend]
    filterset_fields = ["kind", "active"]

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = serializer.save(created_by=actor_of(request))
        shown = SubscriptionSerializer(subscription, context={"reveal_secret": True})
        return Response(shown.data, status=status.HTTP_201_CREATED)


class SubscriptionDetailView(generics.RetrieveUpdateDestroyAPIView[Subscription]):
    """One subscription: read, change (PATCH; ``active: true`` re-enables a disabled one
    and starts its failure count over) or delete."""

    queryset = Subscription.objects.select_related("target")
    serializer_class = SubscriptionSerializer
    permission_classes = [IsStaff]

    def perform_update(self, serializer: SubscriptionSerializer) -> None:  # type: ignore[override]
        was_active = serializer.instance.active if serializer.instance else True
        subscription = serializer.save()
        if subscription.active and not was_active:
            enable(subscription)


class DeliveryListView(generics.ListAPIView[Delivery]):
    """Deliveries, newest first (filter ``subscription``, ``status``)."""

    serializer_class = DeliverySerializer
    permission_classes = [IsStaff]
    pagination_class = StrictLimitOffsetPagination
    filter_backends = [StrictFilterBackend]
    filterset_fields = ["subscription", "status"]

    def get_queryset(self) -> QuerySet[Delivery]:
        return Delivery.objects.select_related("notification")


class DeliveryDetailView(generics.RetrieveAPIView[Delivery]):
    """One delivery with its payload and every attempt (status code, latency, error)."""

    serializer_class = DeliveryDetailSerializer
    permission_classes = [IsStaff]

    def get_queryset(self) -> QuerySet[Delivery]:
        return Delivery.objects.select_related("notification").prefetch_related("attempt_log")


class DeliveryRedeliverView(APIView):
    """Send a delivery again now, with the same webhook-id."""

    permission_classes = [IsStaff]

    @extend_schema(
        request=None,
        responses={200: DeliverySerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        delivery = generics.get_object_or_404(
            Delivery.objects.select_related("notification", "subscription"), pk=pk
        )
        try:
            redeliver([delivery])
        except SubscriptionError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data)
