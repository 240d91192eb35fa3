"""Filters of the build list, the history and the artifact list (``?package=…&status=…``)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from packaging.utils import canonicalize_name

from builds.models import Artifact, BuildEvent, BuildJob
from refinery.lib.api_filters import UtcIsoDateTimeFilter


def _package(queryset: QuerySet[Any], field: str, value: str) -> QuerySet[Any]:
    return queryset.filter(**{field: canonicalize_name(value)})


class BuildJobFilter(django_filters.FilterSet):
    package = django_filters.CharFilter(
        field_name="name", max_length=200, method="filter_package", label="project name"
    )
    version = django_filters.CharFilter(max_length=100)
    status = django_filters.MultipleChoiceFilter(choices=BuildJob.Status.choices)
    failure_reason = django_filters.ChoiceFilter(choices=BuildJob.FailureReason.choices)
    plan = django_filters.NumberFilter(min_value=1)
    run_id = django_filters.CharFilter(
        method="filter_run_id", max_length=200, label="a worker's id: jobs it worked on"
    )
    since = UtcIsoDateTimeFilter(field_name="enqueued_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="enqueued_at", lookup_expr="lt")

    class Meta:
        model = BuildJob
        fields = ["version", "plan"]

    def filter_package(
        self, queryset: QuerySet[BuildJob], name: str, value: str
    ) -> QuerySet[BuildJob]:
        return _package(queryset, "name", value)

    def filter_run_id(
        self, queryset: QuerySet[BuildJob], name: str, value: str
    ) -> QuerySet[BuildJob]:
        worked_on = BuildEvent.objects.filter(actor=value).values("job_id")
        return queryset.filter(pk__in=worked_on)


class BuildEventFilter(django_filters.FilterSet):
    package = django_filters.CharFilter(
        field_name="job__name", max_length=200, method="filter_package"
    )
    status = django_filters.MultipleChoiceFilter(
        field_name="to_status", choices=BuildJob.Status.choices
    )
    kind = django_filters.ChoiceFilter(choices=BuildEvent.Kind.choices)
    job = django_filters.NumberFilter(min_value=1)
    plan = django_filters.NumberFilter(field_name="job__plan", min_value=1)
    run_id = django_filters.CharFilter(field_name="actor", max_length=200)
    q = django_filters.CharFilter(field_name="message", lookup_expr="icontains", max_length=200)
    since = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = BuildEvent
        fields = ["kind", "job"]

    def filter_package(
        self, queryset: QuerySet[BuildEvent], name: str, value: str
    ) -> QuerySet[BuildEvent]:
        return _package(queryset, "job__name", value)


class ArtifactFilter(django_filters.FilterSet):
    package = django_filters.CharFilter(field_name="name", max_length=200, method="filter_package")
    version = django_filters.CharFilter(max_length=100)
    origin = django_filters.ChoiceFilter(choices=Artifact.Origin.choices)
    yanked = django_filters.BooleanFilter()
    platform_tag = django_filters.CharFilter(field_name="target__platform_tag", max_length=64)
    sha256 = django_filters.CharFilter(max_length=64)

    class Meta:
        model = Artifact
        fields = ["version", "origin", "yanked", "sha256"]

    def filter_package(
        self, queryset: QuerySet[Artifact], name: str, value: str
    ) -> QuerySet[Artifact]:
        return _package(queryset, "name", value)
