"""Resolving a plan: the runtime closure, then breadth-first the build environment of every
package that must be built, passing over versions that cannot be built here (see
``plans.dag`` for the DAG it makes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from inputs.format_control import FormatControl
from inputs.target_env import MarkerError, TargetEnvironment
from plans.build_requires_reader import BuildRequiresReader
from plans.dag import PlanDag, PlanError, UnbuildableVersion, check_size
from plans.index_client import DistFile, IndexClient
from plans.metadata import MetadataError
from plans.plan_overrides import Overrides
from plans.project_pages import parse_version
from plans.resolver import (
    Candidate,
    FetchAhead,
    Resolution,
    ResolutionError,
    ResolverCache,
    resolve,
)

# How many unbuildable versions one plan passes over before it gives up.
MAX_PASSED_OVER = 5


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


@dataclass
class _Planning:
    """What every attempt at one plan shares."""

    client: IndexClient
    env: TargetEnvironment
    reader: BuildRequiresReader
    cache: ResolverCache
    max_deps: int | None
    progress: Callable[[str], None] | None

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)


def plan_passing_over_unbuildable(
    requirements: list[Requirement],
    client: IndexClient,
    env: TargetEnvironment,
    overrides: Overrides,
    preferred: Mapping[NormalizedName, Version] | None,
    max_deps: int | None,
    progress: Callable[[str], None] | None,
) -> PlanDag:
    """The plan's DAG, resolved again without each version found unbuildable on the way
    (at most ``MAX_PASSED_OVER`` of them); see ``plans.dag.build_plan_dag``."""
    unbuildable: dict[NormalizedName, frozenset[Version]] = dict(overrides.unbuildable)
    passed_over: list[str] = []
    cache, reader = ResolverCache(), BuildRequiresReader(client)
    # What each sdist read finds is fetched ahead while the runtime closure still resolves
    # (and the sdists that environment must build are read ahead in turn).
    reader.on_declared = FetchAhead(
        client, env, overrides=overrides, cache=cache, on_likely=reader.prefetch
    )
    planning = _Planning(client, env, reader, cache, max_deps, progress)
    try:
        while True:
            attempt = replace(overrides, unbuildable=dict(unbuildable))
            try:
                dag = _plan_once(requirements, attempt, preferred, planning)
            except UnbuildableVersion as exc:
                if len(passed_over) == MAX_PASSED_OVER:
                    raise PlanError(str(exc)) from None
                unbuildable[exc.name] = unbuildable.get(exc.name, frozenset()) | {exc.version}
                passed_over.append(str(exc))
                planning.say(f"passing over {exc.name} {exc.version}: it cannot be built here")
                continue
            except PlanError:
                if passed_over:  # nothing fits without them: the first reason says most
                    raise PlanError(passed_over[0]) from None
                raise
            dag.passed_over = passed_over
            return dag
    finally:
        planning.reader.close()


def _plan_once(
    requirements: list[Requirement],
    overrides: Overrides,
    preferred: Mapping[NormalizedName, Version] | None,
    planning: _Planning,
) -> PlanDag:
    pinned = 0

    def on_pin(candidate: Candidate) -> None:
        nonlocal pinned
        pinned += 1
        planning.reader.prefetch(candidate)  # its build requirements, while resolving goes on
        planning.say(f"resolving: {pinned} packages ({candidate.key})")

    dag = PlanDag()
    try:
        runtime = resolve(
            requirements,
            planning.client,
            planning.env,
            overrides=overrides,
            preferred=preferred,
            on_pin=on_pin,
            # The sdists it will likely build are read before it pins them.
            on_likely=planning.reader.prefetch,
            cache=planning.cache,
        )
    except ResolutionError as exc:
        raise PlanError(str(exc)) from None
    keys = _add_resolution(dag, runtime, planning.env, "runtime", overrides.formats)
    for name in runtime.top_level:
        dag.nodes[keys[name]]["top_level"] = True
    check_size(dag, planning.max_deps)
    _add_build_environments(dag, overrides, on_pin, planning)
    return dag


def _add_build_environments(
    dag: PlanDag,
    overrides: Overrides,
    on_pin: Callable[[Candidate], None],
    planning: _Planning,
) -> None:
    # Breadth-first, a wave at a time: the build requirements of every node of a wave are
    # read at once (each sdist is downloaded to read them), then each distinct set of them
    # is resolved once for the plan (most sdists ask for the same few backends).
    needs_before: dict[str, set[str]] = {}
    environments: dict[tuple[str, ...], Resolution] = {}
    wave = [key for key, node in dag.nodes.items() if node["action"] == "build"]
    while wave:
        wave = [key for key in dict.fromkeys(wave) if key not in needs_before]
        if wave:
            planning.say(f"build requirements of {len(wave)} package(s)")
        sdists = {key: _sdist_of(dag.nodes[key], planning.client) for key in wave}
        for sdist in sdists.values():  # every read of the wave under way at once
            if not isinstance(sdist, PlanError):
                planning.reader.start(sdist)
        next_wave: list[str] = []
        for key in wave:
            node = dag.nodes[key]
            wanted = _applicable(node, _declared(node, sdists[key], planning.reader), planning.env)
            shared = tuple(sorted(str(r) for r in wanted))
            if shared not in environments:
                environments[shared] = _build_environment(node, wanted, overrides, on_pin, planning)
            environment = environments[shared]
            env_keys = _add_resolution(dag, environment, planning.env, "build", overrides.formats)
            direct = {env_keys[n] for n in environment.top_level}
            node["build_requires"] = sorted(direct)
            for dependency in direct:
                dag.edges.add((key, dependency, "build"))
            needs_before[key] = set(env_keys.values())
            next_wave += [k for k in env_keys.values() if dag.nodes[k]["action"] == "build"]
            check_size(dag, planning.max_deps)
        wave = next_wave
    _check_build_cycles(needs_before)


def _unbuildable(node: dict[str, Any], message: str) -> UnbuildableVersion:
    return UnbuildableVersion(
        canonicalize_name(node["name"]), parse_version(node["version"]), message
    )


def _sdist_of(node: dict[str, Any], client: IndexClient) -> DistFile | PlanError:
    sdist = client.project(node["name"]).find(
        node["source"]["sha256"], parse_version(node["version"])
    )
    if sdist is None or sdist.is_wheel:
        return PlanError(f"{node['name']}=={node['version']}: its sdist is no longer on the index")
    return sdist


def _declared(
    node: dict[str, Any], sdist: DistFile | PlanError, reader: BuildRequiresReader
) -> list[Requirement] | PlanError:
    if isinstance(sdist, PlanError):
        return sdist
    declared = reader.read(sdist)
    if isinstance(declared, MetadataError):
        return _unbuildable(node, f"{node['name']}=={node['version']}: {declared}")
    return declared


def _applicable(
    node: dict[str, Any], declared: list[Requirement] | PlanError, env: TargetEnvironment
) -> list[Requirement]:
    if isinstance(declared, PlanError):
        raise declared
    key = f"{node['name']}=={node['version']}"
    try:
        wanted = [r for r in declared if env.evaluate(r.marker)]
    except MarkerError as exc:
        raise _unbuildable(node, f"{key}: build requirements: {exc}") from None
    plain = []
    for requirement in wanted:
        copy = Requirement(str(requirement))
        copy.marker = None
        plain.append(copy)
    return plain


def _build_environment(
    node: dict[str, Any],
    wanted: list[Requirement],
    overrides: Overrides,
    on_pin: Callable[[Candidate], None],
    planning: _Planning,
) -> Resolution:
    key = f"{node['name']}=={node['version']}"
    try:
        return resolve(
            wanted,
            planning.client,
            planning.env,
            overrides=overrides,
            on_pin=on_pin,
            on_likely=planning.reader.prefetch,
            described_as=f"building {key}",
            cache=planning.cache,
        )
    except ResolutionError as exc:
        raise _unbuildable(node, f"build requirements of {key}: {exc}") from None


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
