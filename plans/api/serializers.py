from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import inline_serializer
from packaging.requirements import InvalidRequirement, Requirement
from rest_framework import serializers

from plans.models import Plan
from refinery.lib.pins import version_problem

ACTIONS = ("build", "reuse", "cached")
_SHA256 = re.compile(r"[0-9a-f]{64}")
EDGE_KINDS = ("install", "build")


def _pep440(value: str) -> None:
    problem = version_problem(value)
    if problem is not None:
        raise serializers.ValidationError(problem)


def _requirement(value: str) -> None:
    try:
        Requirement(value)
    except InvalidRequirement as exc:
        raise serializers.ValidationError(f"not a requirement: {exc}") from None


class NodeSerializer(serializers.Serializer[Any]):
    # Validated as sent (no trimming): the DAG is stored as sent.
    name = serializers.RegexField(
        r"^[a-z0-9]+(-[a-z0-9]+)*\Z", max_length=200, trim_whitespace=False
    )
    # Versions reach constraint files and build environments: PEP 440 and nothing else.
    version = serializers.CharField(max_length=100, trim_whitespace=False, validators=[_pep440])
    action = serializers.ChoiceField(choices=ACTIONS)
    # "source" is also an attribute of DRF fields; declared by name, as DRF's docs show.
    locals()["source"] = serializers.DictField()
    build_requires = serializers.ListField(
        child=serializers.CharField(max_length=4096, validators=[_requirement]), required=False
    )

    def validate_source(self, value: dict[str, Any]) -> dict[str, Any]:
        url = value.get("url")
        if url is not None and (
            not isinstance(url, str)
            or not url.startswith(("https://", "http://"))
            or any(c.isspace() for c in url)
        ):
            raise serializers.ValidationError("url: an http(s) URL without spaces is required")
        return value


class EdgeSerializer(serializers.Serializer[Any]):
    locals()["from"] = serializers.CharField(max_length=310, trim_whitespace=False)  # a keyword
    to = serializers.CharField(max_length=310, trim_whitespace=False)
    kind = serializers.ChoiceField(choices=EDGE_KINDS)


class DagSerializer(serializers.Serializer[Any]):
    nodes = NodeSerializer(many=True, allow_empty=False)
    edges = EdgeSerializer(many=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        keys = [f"{n['name']}=={n['version']}" for n in attrs["nodes"]]
        if len(keys) != len(set(keys)):
            raise serializers.ValidationError("nodes: each name==version may appear once")
        for index, node in enumerate(attrs["nodes"]):
            sha = str(node["source"].get("sha256", ""))
            if node["action"] != "cached" and not _SHA256.fullmatch(sha):
                raise serializers.ValidationError(
                    f"nodes[{index}].source.sha256: 64 lower-case hex digits required"
                )
        known = set(keys)
        for index, edge in enumerate(attrs["edges"]):
            for end in ("from", "to"):
                if edge[end] not in known:
                    raise serializers.ValidationError(
                        f"edges[{index}].{end}: {edge[end]!r} is not a node"
                    )
        return attrs


class PlanSubmissionSerializer(serializers.Serializer[Any]):
    input_id = serializers.IntegerField(min_value=1)
    worker = serializers.CharField(max_length=200)
    dag = DagSerializer()
    snapshot = serializers.DictField(required=False, default=dict)


class PlanSerializer(serializers.ModelSerializer[Plan]):
    target = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = ["id", "target", "strategy", "status", "priority", "snapshot", "dag", "created_at"]

    def get_target(self, plan: Plan) -> str:
        return str(plan.target)


class PlanSummarySerializer(serializers.ModelSerializer[Plan]):
    """A plan in a list: what it is for and its counts, without the DAG."""

    target = serializers.SerializerMethodField()
    inputs = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = [
            "id",
            "target",
            "strategy",
            "status",
            "priority",
            "inputs",
            "counts",
            "created_at",
        ]

    def get_target(self, plan: Plan) -> str:
        return str(plan.target)

    def get_inputs(self, plan: Plan) -> list[int]:
        return sorted(link.input_id for link in plan.input_links.all())

    def get_counts(self, plan: Plan) -> dict[str, int]:
        counts = (plan.snapshot or {}).get("counts") or {}
        return {str(k): int(v) for k, v in counts.items() if isinstance(v, int)}


class ParsedRequirementSerializer(serializers.Serializer[Any]):
    """One line of the uploaded file, as validated at upload."""

    line = serializers.IntegerField()
    requirement = serializers.CharField()
    name = serializers.CharField()
    hashes = serializers.ListField(child=serializers.CharField())


class PoppedInputSerializer(serializers.Serializer[Any]):
    """A leased input with everything a remote plan worker needs to plan it."""

    id = serializers.IntegerField()
    worker = serializers.CharField()
    lease_expires_at = serializers.DateTimeField()
    python_version = serializers.CharField()
    platform_tag = serializers.CharField()
    strategy = serializers.CharField()
    requirements = ParsedRequirementSerializer(many=True)
    overrides = serializers.DictField()
    preferred = serializers.DictField(child=serializers.CharField())
    max_deps = serializers.IntegerField()
    format_control = inline_serializer(
        "FormatControl",
        {
            "no_binary": serializers.ListField(child=serializers.CharField()),
            "only_binary": serializers.ListField(child=serializers.CharField()),
        },
        required=False,
    )
    index_url = serializers.CharField()
    extra_index_urls = serializers.ListField(child=serializers.CharField())


class PopResultSerializer(serializers.Serializer[Any]):
    inputs = PoppedInputSerializer(many=True)
