"""Filter fields shared by the list endpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField


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
