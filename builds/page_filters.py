"""The builds page's filters (query parameters a person edits, so they are checked)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from packaging.utils import canonicalize_name

from builds.models import BuildJob
from plans.models import Target


def _target_choices() -> list[tuple[str, str]]:
    return [(str(target), str(target)) for target in Target.objects.all()]


class BuildPageFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=BuildJob.Status.choices)
    target = django_filters.ChoiceFilter(method="filter_target")
    name = django_filters.CharFilter(max_length=200, method="filter_name", label="name contains")
    reason = django_filters.ChoiceFilter(
        field_name="failure_reason", choices=BuildJob.FailureReason.choices[1:]
    )

    class Meta:
        model = BuildJob
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["target"].extra["choices"] = _target_choices()  # targets come and go

    def filter_target(
        self, queryset: QuerySet[BuildJob], name: str, value: str
    ) -> QuerySet[BuildJob]:
        chosen = [t.pk for t in Target.objects.all() if str(t) == value]
        return queryset.filter(target_id__in=chosen)

    def filter_name(
        self, queryset: QuerySet[BuildJob], name: str, value: str
    ) -> QuerySet[BuildJob]:
        return queryset.filter(name__contains=canonicalize_name(value.strip()))
