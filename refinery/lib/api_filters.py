"""Filter fields shared by the list endpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView


class _UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601, turned into UTC here: PostgreSQL accepts offsets only up to 15:59 while
    Python parses up to 23:59, and a date at the edge of the calendar may leave it."""

    def to_python(self, value: str | datetime | date | None) -> datetime | None:
        parsed: datetime | None = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("the date is outside the calendar") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _UtcIsoDateTimeField


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, refusing query parameters it does not know: ``/api/artifacts?nmae=x``
    is a 400 naming ``nmae`` and the known filters, not the whole unfiltered list."""

    # Not filters, but understood by every list view (pagination, DRF's format suffix).
    ALWAYS_KNOWN = frozenset({"limit", "offset", "format"})

    def filter_queryset(  # type: ignore[override]  # DRF passes its Request
        self, request: Request, queryset: QuerySet[Any], view: APIView
    ) -> QuerySet[Any]:
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(filterset_class.base_filters) if filterset_class else set()
        unknown = sorted(set(request.query_params) - known - self.ALWAYS_KNOWN)
        if unknown:
            names = ", ".join(sorted(known | {"limit", "offset"}))
            raise ValidationError({unknown[0]: f"unknown query parameter; known: {names}"})
        return super().filter_queryset(request, queryset, view)
