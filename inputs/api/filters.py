from __future__ import annotations

import django_filters

from inputs.models import PendingInput
from refinery.lib.api_filters import UtcIsoDateTimeFilter


class PendingInputFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PendingInput.Status.choices)
    kind = django_filters.ChoiceFilter(choices=PendingInput.Kind.choices)
    python_version = django_filters.CharFilter(max_length=16)
    platform_tag = django_filters.CharFilter(max_length=64)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = PendingInput
        fields = ["status", "kind", "python_version", "platform_tag"]
