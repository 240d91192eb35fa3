"""Assemble a plan's DAG: runtime packages, plus the build environments of what must be built.

Nodes are ``name==version``. ``install`` edges say a package needs another at run time;
``build`` edges say building a package needs another installed in its build
environment. Each ``build`` node's ``build-system.requires`` is resolved for the target
on its own (as pip's isolated build does); anything in that environment that must be
built becomes a node too, recursively. Build backends published as pure-Python wheels
are reused, which breaks the usual bootstrap loops the way pip does; a loop that
remains among packages that must all be built is reported with the cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from inputs.overrides import normalize_overrides
from inputs.target_env import TargetEnvironment
from plans.index_client import IndexClient
from plans.plan_memo import memo_key, recall, remember
from plans.plan_overrides import Overrides


class PlanError(Exception):
    """The plan cannot be made; the message says why in a line."""


class UnbuildableVersion(PlanError):
    """One version must be built for the target and cannot be (its build requirements cannot
    be met, or its sdist cannot be read): an earlier version may do."""

    def __init__(self, name: NormalizedName, version: Version, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.version = version


@dataclass
class PlanDag:
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: set[tuple[str, str, str]] = field(default_factory=set)
    # Newer versions passed over because they cannot be built here, each with the reason.
    passed_over: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nodes": sorted(self.nodes.values(), key=lambda n: (n["name"], n["version"])),
            "edges": [{"from": a, "to": b, "kind": kind} for a, b, kind in sorted(self.edges)],
        }
        if self.passed_over:
            data["passed_over"] = self.passed_over
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanDag:
        return cls(
            nodes={f"{n['name']}=={n['version']}": n for n in data["nodes"]},
            edges={(e["from"], e["to"], e["kind"]) for e in data["edges"]},
            passed_over=list(data.get("passed_over", [])),
        )


def build_plan_dag(
    requirements: list[Requirement],
    client: IndexClient,
    env: TargetEnvironment,
    *,
    overrides: Overrides | None = None,
    preferred: Mapping[NormalizedName, Version] | None = None,
    max_deps: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> PlanDag:
    """Resolve ``requirements`` and every build environment they need into one DAG.

    A version that must be built and cannot be (say lxml whose build needs a Cython not yet
    released) is passed over and the whole plan resolved again without it, as long as some
    other version fits; otherwise the plan fails with the first such reason. A re-plan of
    the same input while every page it read is unchanged is a lookup (``plans.plan_memo``)."""
    overrides = overrides or Overrides()
    key = memo_key(requirements, env, overrides, preferred, client)
    recalled = recall(client, key)
    if recalled is not None:
        if progress is not None:
            progress("unchanged since the last plan of the same requirements: reused")
        check_size(recalled, max_deps)
        return recalled
    # Loaded only now: a re-plan that is a lookup needs none of the resolver, and loading it
    # was a quarter of such a re-plan as a process (measured: 0.165 s -> 0.121 s).
    from plans.plan_resolution import plan_passing_over_unbuildable

    dag = plan_passing_over_unbuildable(
        requirements, client, env, overrides, preferred, max_deps, progress
    )
    remember(client, key, dag)
    return dag


def check_size(dag: PlanDag, max_deps: int | None) -> None:
    if max_deps is not None and len(dag.nodes) > max_deps:
        raise PlanError(
            f"the plan needs more than MAX_DEPS={max_deps} packages ({len(dag.nodes)} so far); "
            "raise MAX_DEPS or trim the requirements"
        )


def parse_overrides(data: object) -> Overrides:
    """Validated overrides JSON (see ``inputs.overrides``) -> ``Overrides``."""
    try:
        normalized = normalize_overrides(data)
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    return Overrides(
        force={canonicalize_name(n): Version(v) for n, v in normalized["force"].items()},
        exclude=frozenset(canonicalize_name(n) for n in normalized["exclude"]),
    )
