"""A claimed job as JSON: what ``/api/build-queue/pop`` sends a remote worker.

One schema, ``ClaimSerializer``, for all three uses: the server writes a claim with it, the
remote worker reads one back with it (checking every field: a job that arrives half-formed
must fail loudly, not build something else), and the OpenAPI document describes it. So the
worker builds from exactly what the local cluster would have built from.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from builds.runners.base import BuildSpec
from builds.worker import ClaimedJob
from hints.recipes import validate_recipes
from refinery.lib.api_errors import first_error
from refinery.lib.pins import name_problem, version_problem


class ClaimFormatError(ValueError):
    pass


def _problem_free(problem_of: Any) -> Any:
    def check(value: str) -> None:
        problem = problem_of(value)
        if problem is not None:
            raise serializers.ValidationError(problem)

    return check


class ClaimSerializer(serializers.Serializer[ClaimedJob]):
    """A ``ClaimedJob`` (with its ``BuildSpec`` flattened into the same object)."""

    id = serializers.IntegerField(min_value=1)
    attempt = serializers.IntegerField(min_value=1)
    name = serializers.CharField(source="spec.name", validators=[_problem_free(name_problem)])
    version = serializers.CharField(
        source="spec.version", validators=[_problem_free(version_problem)]
    )
    python_tag = serializers.CharField(source="spec.python_tag")
    platform_tag = serializers.CharField(source="spec.platform_tag")
    target_python = serializers.CharField()
    target_platform = serializers.CharField()
    sdist_url = serializers.RegexField(
        r"^https?://\S+$", source="spec.sdist_url", error_messages={"invalid": "not an http(s) URL"}
    )
    sdist_sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$", source="spec.sdist_sha256", error_messages={"invalid": "not a sha256"}
    )
    recipes = serializers.ListField(
        child=serializers.DictField(), source="spec.recipes", validators=[validate_recipes]
    )
    index_urls = serializers.ListField(child=serializers.CharField(), source="spec.index_urls")
    source_date_epoch = serializers.IntegerField(source="spec.source_date_epoch")
    build_requires = serializers.ListField(child=serializers.CharField(), allow_empty=True)

    def create(self, validated_data: dict[str, Any]) -> ClaimedJob:
        spec = validated_data.pop("spec")
        return ClaimedJob(spec=BuildSpec(job_id=validated_data["id"], **spec), **validated_data)


def claim_to_json(job: ClaimedJob) -> dict[str, Any]:
    return dict(ClaimSerializer(job).data)


def claim_from_json(data: Any) -> ClaimedJob:
    if not isinstance(data, dict):
        raise ClaimFormatError("claimed job: not an object")
    claim = ClaimSerializer(data=data)
    if not claim.is_valid():
        job = data.get("id")
        raise ClaimFormatError(
            f"claimed job {job if isinstance(job, int) else '?'}: {first_error(claim.errors)}"
        )
    return claim.save()
