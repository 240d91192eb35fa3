from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from builds.index.pages import file_url
from builds.models import Artifact, BuildEvent, BuildJob, LogChunk
from hints.recipes import validate_recipes
from inputs.priority import Priority
from plans.models import Plan
from refinery.lib.pins import name_problem, version_problem


class WheelUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
    target = serializers.CharField(
        required=False, max_length=80, help_text="index target, e.g. cp311-manylinux_2_17_s390x"
    )


class YankSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ArtifactSerializer(serializers.ModelSerializer[Artifact]):
    target = serializers.StringRelatedField[Artifact]()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Artifact
        fields = (
            "id",
            "name",
            "version",
            "filename",
            "sha256",
            "size",
            "tags",
            "requires_python",
            "origin",
            "target",
            "uploaded_at",
            "yanked",
            "yanked_reason",
            "provenance",
            "reproducible",
            "reproduced_at",
            "reproduction",
            "download_url",
        )

    def get_download_url(self, artifact: Artifact) -> str:
        return "/" + file_url(artifact).removeprefix("../../")


class WheelUploadResultSerializer(serializers.Serializer[Any]):
    created = serializers.BooleanField(help_text="false: the same bytes were already stored")
    message = serializers.CharField()
    artifact = ArtifactSerializer()


class YankResultSerializer(serializers.Serializer[Any]):
    changed = serializers.BooleanField(help_text="false: it already was (un)yanked")
    artifact = ArtifactSerializer()


class BuildJobSerializer(serializers.ModelSerializer[BuildJob]):
    target = serializers.StringRelatedField[BuildJob]()
    priority = serializers.SerializerMethodField()
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = BuildJob
        fields: tuple[str, ...] = (
            "id",
            "name",
            "version",
            "target",
            "plan",
            "status",
            "priority",
            "attempts",
            "max_attempts",
            "failure_reason",
            "error",
            "lease_owner",
            "lease_expires_at",
            "next_attempt_at",
            "enqueued_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "recipes",
            "recipe_origins",
            "repair_rounds",
            "regressed_from",
        )

    def get_priority(self, job: BuildJob) -> str:
        return str(Priority(job.priority).label)

    def get_duration_seconds(self, job: BuildJob) -> float | None:
        return None if job.duration is None else round(job.duration.total_seconds(), 3)


class BuildEventSerializer(serializers.ModelSerializer[BuildEvent]):
    package = serializers.SerializerMethodField()

    class Meta:
        model = BuildEvent
        fields = (
            "id",
            "job",
            "package",
            "kind",
            "from_status",
            "to_status",
            "actor",
            "message",
            "data",
            "created_at",
        )

    def get_package(self, event: BuildEvent) -> str:
        return f"{event.job.name}=={event.job.version}"


class BuildJobDetailSerializer(BuildJobSerializer):
    """A job with its timeline, the wheels it produced and where its log is."""

    events = BuildEventSerializer(many=True, read_only=True)
    artifacts = ArtifactSerializer(many=True, read_only=True)
    log_url = serializers.SerializerMethodField()

    class Meta(BuildJobSerializer.Meta):
        fields = (*BuildJobSerializer.Meta.fields, "events", "artifacts", "log_url")

    def get_log_url(self, job: BuildJob) -> str:
        return f"/api/logs/{job.name}/{job.version}?job={job.pk}"


class RetrySerializer(serializers.Serializer[Any]):
    recipes = serializers.JSONField(
        required=False,
        help_text="recipes to build with from now on (the recipe schema); learned when it builds",
    )

    def validate_recipes(self, value: Any) -> Any:
        try:
            validate_recipes(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0]) from None
        return value


class LogChunkSerializer(serializers.ModelSerializer[LogChunk]):
    class Meta:
        model = LogChunk
        fields = ("id", "job", "attempt", "seq", "text", "created_at")


class EnqueueNodeSerializer(serializers.Serializer[Any]):
    node = serializers.CharField(max_length=310, help_text="name==version, as in the plan's DAG")


class EnqueueSummarySerializer(serializers.Serializer[Any]):
    enqueued = serializers.ListField(child=serializers.IntegerField())
    already_queued = serializers.ListField(child=serializers.IntegerField())
    recorded = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.IntegerField()
    unavailable = serializers.DictField(child=serializers.CharField())
    message = serializers.CharField()


class QueueEnqueueSerializer(serializers.Serializer[Any]):
    """A build (``name``, ``version``, optional ``target`` and ``priority``), or with
    ``queue: plan`` an uploaded input (``input_id``) for planning."""

    queue = serializers.ChoiceField(choices=["build", "plan"], default="build")
    input_id = serializers.IntegerField(min_value=1, required=False)
    name = serializers.CharField(max_length=200, required=False)
    version = serializers.CharField(max_length=100, required=False)
    target = serializers.CharField(
        required=False, max_length=80, help_text="e.g. cp311-manylinux_2_17_s390x; default target"
    )
    priority = serializers.ChoiceField(
        choices=[str(p.label) for p in Priority], required=False, default="normal"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["queue"] == "plan":
            if "input_id" not in attrs:
                raise serializers.ValidationError({"input_id": "the input to plan is required"})
            return attrs
        for field, problem in (("name", name_problem), ("version", version_problem)):
            if not attrs.get(field):
                raise serializers.ValidationError({field: "This field is required."})
            if (reason := problem(attrs[field])) is not None:
                raise serializers.ValidationError({field: reason})
        return attrs


class QueueClearSerializer(serializers.Serializer[Any]):
    queue = serializers.ChoiceField(choices=["build", "plan"])


class ManifestLinkSerializer(serializers.ModelSerializer[Plan]):
    target = serializers.StringRelatedField[Plan]()
    manifest_url = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = ("id", "target", "status", "created_at", "manifest_url")

    def get_manifest_url(self, plan: Plan) -> str:
        return f"/api/plans/{plan.pk}/manifest"
