from __future__ import annotations

import django_filters

from inputs.strategy import STRATEGY_CHOICES
from plans.models import Plan
from refinery.lib.api_filters import UtcIsoDateTimeFilter


class PlanFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Plan.Status.choices)
    strategy = django_filters.ChoiceFilter(choices=STRATEGY_CHOICES)
    input = django_filters.NumberFilter(field_name="inputs", min_value=1)
    platform_tag = django_filters.CharFilter(field_name="target__platform_tag", max_length=64)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Plan
        fields = ["status", "strategy"]
