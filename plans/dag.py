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

from inputs.format_control import FormatControl
from inputs.overrides import normalize_overrides
from inputs.target_env import MarkerError, TargetEnvironment
from plans.index_client import IndexClient
from plans.metadata import MetadataError, sdist_build_requires
from plans.project_pages import parse_version
from plans.resolver import (
    Candidate,
    Overrides,
    Resolution,
    ResolutionError,
    ResolverCache,
    resolve,
)


class PlanError(Exception):
    """The plan cannot be made; the message says why in a line."""


@dataclass
class PlanDag:
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: set[tuple[str, str, str]] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {
            "nodes": sorted(self.nodes.values(), key=lambda n: (n["name"], n["version"])),
            "edges": [{"from": a, "to": b, "kind": kind} for a, b, kind in sorted(self.edges)],
        }


def _why(candidate: Candidate, env: TargetEnvironment, formats: FormatControl) -> str:
    option = formats.why(candidate.name)
    if candidate.action == "reuse":
        wheel = f"compatible wheel {candidate.dist.filename}"
        return f"{option}: {wheel}" if option.startswith("--only-binary") else wheel
    if option.startswith("--no-binary"):
        return f"{option}: build from {candidate.dist.filename} even where a wheel fits"
    return f"no wheel for {env}; build from {candidate.dist.filename}"


def _node(
    candidate: Candidate, env: TargetEnvironment, role: str, formats: FormatControl
) -> dict[str, Any]:
    node: dict[str, Any] = {
        "name": candidate.name,
        "version": str(candidate.version),
        "action": candidate.action,
        "why": _why(candidate, env, formats),
        "roles": [role],
        "source": {
            "kind": "wheel" if candidate.action == "reuse" else "sdist",
            **candidate.dist.as_source(),
        },
    }
    if candidate.sdist is not None and candidate.action == "reuse":
        node["sdist"] = candidate.sdist.as_source()
    if candidate.action == "build" and "binary" not in formats.allowed(candidate.name):
        # Only a wheel built here from source will do (not one fetched from upstream).
        node["no_binary"] = True
    return node


def _add_resolution(
    dag: PlanDag,
    resolution: Resolution,
    env: TargetEnvironment,
    role: str,
    formats: FormatControl,
) -> dict[NormalizedName, str]:
    """Merge a resolution into the DAG; returns name -> node key for this resolution."""
    keys: dict[NormalizedName, str] = {}
    for name, candidate in resolution.packages.items():
        key = candidate.key
        keys[name] = key
        if key in dag.nodes:
            if role not in dag.nodes[key]["roles"]:
                dag.nodes[key]["roles"].append(role)
        else:
            dag.nodes[key] = _node(candidate, env, role, formats)
        extras = sorted(resolution.extras.get(name, ()))
        if extras:
            dag.nodes[key]["extras"] = sorted(set(dag.nodes[key].get("extras", [])) | set(extras))
    for parent, child in resolution.edges:
        dag.edges.add((keys[parent], keys[child], "install"))
    return keys


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
    """Resolve ``requirements`` and every build environment they need into one DAG."""
    pinned = 0

    def on_pin(candidate: Candidate) -> None:
        nonlocal pinned
        pinned += 1
        if progress is not None:
            progress(f"resolving: {pinned} packages ({candidate.key})")

    dag = PlanDag()
    cache = ResolverCache()
    try:
        runtime = resolve(
            requirements,
            client,
            env,
            overrides=overrides,
            preferred=preferred,
            on_pin=on_pin,
            cache=cache,
        )
    except ResolutionError as exc:
        raise PlanError(str(exc)) from None
    formats = (overrides or Overrides()).formats
    keys = _add_resolution(dag, runtime, env, "runtime", formats)
    for name in runtime.top_level:
        dag.nodes[keys[name]]["top_level"] = True
    _check_size(dag, max_deps)

    # Breadth-first over nodes that must be built: resolve each one's build environment.
    needs_before: dict[str, set[str]] = {}
    pending = [key for key, node in dag.nodes.items() if node["action"] == "build"]
    while pending:
        key = pending.pop(0)
        if key in needs_before:
            continue
        node = dag.nodes[key]
        if progress is not None:
            progress(f"build requirements of {key}")
        environment = _build_environment(node, client, env, overrides, on_pin, cache)
        env_keys = _add_resolution(dag, environment, env, "build", formats)
        direct = {env_keys[n] for n in environment.top_level}
        node["build_requires"] = sorted(direct)
        for dependency in direct:
            dag.edges.add((key, dependency, "build"))
        needs_before[key] = set(env_keys.values())
        pending += [k for k in env_keys.values() if dag.nodes[k]["action"] == "build"]
        _check_size(dag, max_deps)
    _check_build_cycles(needs_before)
    return dag


def _build_environment(
    node: dict[str, Any],
    client: IndexClient,
    env: TargetEnvironment,
    overrides: Overrides | None,
    on_pin: Callable[[Candidate], None],
    cache: ResolverCache,
) -> Resolution:
    key = f"{node['name']}=={node['version']}"
    sdist = client.project(node["name"]).find(
        node["source"]["sha256"], parse_version(node["version"])
    )
    if sdist is None or sdist.is_wheel:
        raise PlanError(f"{key}: its sdist is no longer on the index")
    try:
        requires = sdist_build_requires(client, sdist)
    except MetadataError as exc:
        raise PlanError(f"{key}: {exc}") from None
    try:
        wanted = [r for r in requires if env.evaluate(r.marker)]
    except MarkerError as exc:
        raise PlanError(f"{key}: build requirements: {exc}") from None
    for requirement in wanted:
        requirement.marker = None
    try:
        return resolve(
            wanted,
            client,
            env,
            overrides=overrides,
            on_pin=on_pin,
            described_as=f"building {key}",
            cache=cache,
        )
    except ResolutionError as exc:
        raise PlanError(f"build requirements of {key}: {exc}") from None


def _check_size(dag: PlanDag, max_deps: int | None) -> None:
    if max_deps is not None and len(dag.nodes) > max_deps:
        raise PlanError(
            f"the plan needs more than MAX_DEPS={max_deps} packages ({len(dag.nodes)} so far); "
            "raise MAX_DEPS or trim the requirements"
        )


def _check_build_cycles(needs_before: dict[str, set[str]]) -> None:
    """A package that must be built before itself (through its build environments) is an error."""
    must_build = set(needs_before)
    graph = {
        key: sorted(dep for dep in deps if dep in must_build and dep != key)
        for key, deps in needs_before.items()
    }
    for key, deps in needs_before.items():
        if key in deps:
            raise PlanError(f"build cycle: {key} needs itself to build")
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(key: str) -> None:
        state[key] = 1
        stack.append(key)
        for dep in graph[key]:
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                raise PlanError(
                    "build cycle among packages that must all be built: " + " -> ".join(cycle)
                )
            if dep not in state:
                visit(dep)
        stack.pop()
        state[key] = 2

    for key in sorted(graph):
        if key not in state:
            visit(key)


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
