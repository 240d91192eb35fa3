"""The hint catalog over HTTP: anyone may read it (while reads are open), staff edit it."""

from __future__ import annotations

from rest_framework import generics

from hints.api.serializers import HintSerializer
from hints.models import Hint
from hints.requeue import requeue_failures_later
from refinery.lib.api_auth import IsOperator
from refinery.lib.api_filters import StrictFilterBackend
from refinery.lib.api_pagination import StrictLimitOffsetPagination


class HintListView(generics.ListCreateAPIView[Hint]):
    """Hints by name (GET; filter ``scope``, ``package``, ``enabled``, ``source``), or a new
    one (POST, staff). Creating one with a name in use is a 400 naming the field."""

    queryset = Hint.objects.all()
    serializer_class = HintSerializer
    permission_classes = [IsOperator]
    pagination_class = StrictLimitOffsetPagination
    filter_backends = [StrictFilterBackend]
    filterset_fields = ["scope", "package", "enabled", "source"]

    def perform_create(self, serializer: HintSerializer) -> None:  # type: ignore[override]
        requeue_failures_later(serializer.save(source=Hint.Source.MANUAL))


class HintDetailView(generics.RetrieveUpdateDestroyAPIView[Hint]):
    """One hint: read, replace (PUT), change (PATCH) or delete (staff). A new or changed
    hint re-queues (bounded) the failed builds whose last log it matches."""

    queryset = Hint.objects.all()
    serializer_class = HintSerializer
    permission_classes = [IsOperator]

    def perform_update(self, serializer: HintSerializer) -> None:  # type: ignore[override]
        requeue_failures_later(serializer.save())
