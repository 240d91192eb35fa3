"""Resolve requirements for a target with resolvelib over PEP 691 indexes.

Each version of a project becomes at most one candidate: its best wheel for the
target (action ``reuse``) or, lacking one, its sdist (action ``build``). Versions whose
files all exclude the target's Python, or that offer neither, are not candidates.
Yanked files are used only for an exact ``==`` pin (PEP 592).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep
from resolvelib.structs import RequirementInformation

from inputs.target_env import MarkerError, TargetEnvironment
from plans.index_client import DistFile, IndexClient, ProjectPage
from plans.metadata import CoreMetadata, MetadataError, dependencies_of
from plans.plan_overrides import Overrides

MAX_ROUNDS = 20_000
# How far ahead of the resolver dependencies are fetched (see PlanProvider.speculate).
SPECULATION_DEPTH = 6


class ResolutionError(Exception):
    """The requirements cannot be met for the target; the message explains why."""


@dataclass(frozen=True)
class Candidate:
    name: NormalizedName
    version: Version
    extras: frozenset[str]
    dist: DistFile
    action: str  # "reuse": a compatible wheel exists; "build": only the sdist fits
    metadata_wheel: DistFile | None
    sdist: DistFile | None

    @property
    def key(self) -> str:
        return f"{self.name}=={self.version}"

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras}=={self.version}"


def _identify(name: str, extras: Iterable[str]) -> str:
    canonical = canonicalize_name(name)
    extras = sorted(canonicalize_name(e) for e in extras)
    return f"{canonical}[{','.join(extras)}]" if extras else canonical


def _without_marker(requirement: Requirement) -> Requirement:
    """A copy without its marker (the parsed metadata is shared, so it is not changed in
    place). Built from the public attributes: ``copy.copy`` goes through pickling's
    reduce protocol and cost a fifth of a cold plan's dependency handling."""
    plain = Requirement.__new__(Requirement)
    plain.name = requirement.name
    plain.url = requirement.url
    plain.extras = set(requirement.extras)
    plain.specifier = requirement.specifier
    plain.marker = None
    return plain


def _is_exact_pin(requirement: Requirement) -> bool:
    return any(s.operator in ("==", "===") and "*" not in s.version for s in requirement.specifier)


@dataclass
class ResolverCache:
    """What one plan's resolutions (runtime and every build environment) can share: they
    use the same target and overrides, so candidates and filtered versions are the same."""

    metadata: dict[str, CoreMetadata] = field(default_factory=dict)
    filtered: dict[tuple[NormalizedName, str], list[Version]] = field(default_factory=dict)
    candidates: dict[tuple[NormalizedName, Version, frozenset[str], bool], Candidate | None] = (
        field(default_factory=dict)
    )
    # Applicable dependencies by metadata file, target and extras (see _applicable_dependencies).
    applicable: dict[str, list[Requirement]] = field(default_factory=dict)


class PlanProvider(AbstractProvider):  # type: ignore[type-arg]
    def __init__(
        self,
        client: IndexClient,
        env: TargetEnvironment,
        *,
        overrides: Overrides,
        preferred: Mapping[NormalizedName, Version],
        on_pin: Callable[[Candidate], None] | None = None,
        on_likely: Callable[[Candidate], None] | None = None,
        cache: ResolverCache | None = None,
    ) -> None:
        self.client = client
        self.env = env
        self.overrides = overrides
        self.preferred = preferred
        self.on_pin = on_pin
        # Told of the candidate the resolver will most likely pin, as soon as its page is in.
        self.on_likely = on_likely
        # Who asked for what, for explaining conflicts as a chain back to the file.
        self.requested_by: dict[NormalizedName, tuple[str | None, str]] = {}
        self._cache = cache or ResolverCache()
        self._metadata = self._cache.metadata
        self._filtered = self._cache.filtered
        self._candidates = self._cache.candidates
        self._speculated: set[tuple[NormalizedName, str, frozenset[str]]] = set()
        self._speculation_lock = threading.Lock()

    # --- resolvelib protocol -----------------------------------------------------------

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return _identify(requirement_or_candidate.name, requirement_or_candidate.extras)

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]],
    ) -> Any:
        infos = list(information[identifier])
        pinned = any(_is_exact_pin(i.requirement) for i in infos)
        direct = any(i.parent is None for i in infos)
        causes = {self.identify(c.requirement) for c in backtrack_causes}
        # pip's order: pinned first, then what caused backtracking, then the file's own.
        return (not pinned, identifier not in causes, not direct, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Callable[[], Iterator[Candidate]]:
        reqs = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        name = canonicalize_name(reqs[0].name)
        extras = frozenset(canonicalize_name(e) for r in reqs for e in r.extras)
        versions = [v for v in self._allowed_versions(name, reqs) if v not in bad]
        exact = name in self.overrides.force or any(_is_exact_pin(r) for r in reqs)
        first = next(self._iter_candidates(name, extras, versions, exact), None)
        if first is not None and first.metadata_wheel is not None:
            self.client.wheel_metadata_future(first.metadata_wheel)  # warm it in the background
        # A factory, so resolvelib builds candidates only for the versions it tries.
        return lambda: self._iter_candidates(name, extras, versions, exact)

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        if canonicalize_name(requirement.name) != candidate.name:
            return False
        if candidate.name in self.overrides.force:
            return True
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        if self.on_pin is not None:
            self.on_pin(candidate)
        dependencies: list[Requirement] = []
        if candidate.extras:
            # An extra's candidate pulls in its base at the same version (as pip does).
            dependencies.append(Requirement(f"{candidate.name}=={candidate.version}"))
        for requirement in self._applicable_dependencies(candidate):
            dep_name = canonicalize_name(requirement.name)
            if dep_name in self.overrides.exclude:
                continue
            self.requested_by.setdefault(dep_name, (candidate.key, str(requirement)))
            dependencies.append(requirement)
        for dependency in dependencies:
            self.speculate(dependency)
        return dependencies

    def _applicable_dependencies(self, candidate: Candidate) -> list[Requirement]:
        """The candidate's dependencies whose markers hold on the target, markers removed.

        Kept on disk per metadata file (named by its sha256), target and extras: metadata
        never changes for a file, and parsing every Requires-Dist line (most apply only to
        some extra or platform) is the bulk of a warm re-plan's time."""
        source = candidate.metadata_wheel or candidate.sdist
        assert source is not None
        key = f"{source.sha256}-{self.env}-{','.join(sorted(candidate.extras))}"
        applicable = self._cache.applicable.get(key)
        if applicable is not None:
            return applicable
        cached = self.client.derived(key)
        if cached is not None:
            applicable = [Requirement(text) for text in cached]
        else:
            applicable = [
                _without_marker(requirement)
                for requirement in self.metadata(candidate).requires_dist
                if self._applies(candidate, requirement)
            ]
            self.client.store_derived(key, [str(r) for r in applicable])
        self._cache.applicable[key] = applicable
        return applicable

    def _applies(self, candidate: Candidate, requirement: Requirement) -> bool:
        try:
            return self.env.evaluate(requirement.marker, candidate.extras)
        except MarkerError as exc:
            # Fail the plan at once with the cause (pip would crash on it).
            raise ResolutionError(f"{candidate.key} requires '{requirement}': {exc}") from None

    def speculate(self, requirement: Requirement, depth: int = 0) -> None:
        """Fetch, in the background, the page of a package the resolver will ask about, then
        the metadata of its newest matching version (which it will most likely pick), then
        the same for that version's own dependencies, down to ``SPECULATION_DEPTH``.

        Without the transitive step the network idles while the resolver walks the graph
        one hop at a time: it learns of a dependency only when it pins the package that
        needs it. Guesses that turn out wrong cost a fetch; the resolver never relies on
        them (a dependency is applied only when the resolver itself asks for it)."""
        name = canonicalize_name(requirement.name)
        extras = frozenset(canonicalize_name(e) for e in requirement.extras)
        exact = name in self.overrides.force or _is_exact_pin(requirement)
        key = (name, str(requirement.specifier), extras)
        with self._speculation_lock:
            if key in self._speculated:
                return
            self._speculated.add(key)

        def on_metadata(best: Candidate, data: Future[bytes]) -> None:
            if data.cancelled() or data.exception() is not None or depth >= SPECULATION_DEPTH:
                return
            try:
                # The same work the resolver does when it pins ``best``, kept for it.
                dependencies = self._applicable_dependencies(best)
            except ResolutionError:
                return  # the resolver will meet the same error and report it
            for dependency in dependencies:
                self.speculate(dependency, depth + 1)

        def on_page(page: Future[ProjectPage]) -> None:
            if page.cancelled() or page.exception() is not None:
                return  # the resolver will meet the same error and report it
            versions = self._allowed_versions(name, [requirement])
            best = next(self._iter_candidates(name, extras, versions, exact), None)
            if best is not None and self.on_likely is not None:
                self.on_likely(best)
            if best is not None and best.metadata_wheel is not None:
                future = self.client.wheel_metadata_future(best.metadata_wheel)
                future.add_done_callback(lambda data: on_metadata(best, data))

        self.client.project_future(name).add_done_callback(on_page)

    # --- candidates and metadata ----------------------------------------------------------

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        cached = self._metadata.get(candidate.key)
        if cached is None:
            try:
                cached = dependencies_of(self.client, candidate.metadata_wheel, candidate.sdist)
            except MetadataError as exc:
                raise ResolutionError(f"{candidate.key}: {exc}") from exc
            self._metadata[candidate.key] = cached
        return cached

    def _project(self, name: NormalizedName) -> ProjectPage:
        return self.client.project(name)

    def _allowed_versions(self, name: NormalizedName, reqs: Sequence[Requirement]) -> list[Version]:
        """Versions the requirements admit, newest first (a preferred one first of all)."""
        page = self._project(name)
        forced = self.overrides.force.get(name)
        if forced is not None:
            return [forced] if forced in page.versions else []
        spec = SpecifierSet()
        for req in reqs:
            spec &= req.specifier
        key = (name, str(spec))
        if key not in self._filtered:
            self._filtered[key] = sorted(spec.filter(page.versions), reverse=True)
        versions = list(self._filtered[key])
        passed_over = self.overrides.unbuildable.get(name)
        if passed_over:
            versions = [v for v in versions if v not in passed_over]
        preferred = self.preferred.get(name)
        if preferred is not None and preferred in versions:
            versions.remove(preferred)
            versions.insert(0, preferred)
        return versions

    def _iter_candidates(
        self, name: NormalizedName, extras: frozenset[str], versions: list[Version], exact: bool
    ) -> Iterator[Candidate]:
        page = self._project(name)
        for version in versions:
            key = (name, version, extras, exact)
            if key not in self._candidates:
                self._candidates[key] = self._candidate(
                    name, version, extras, page.files_for(version), exact
                )
            candidate = self._candidates[key]
            if candidate is not None:
                yield candidate

    def candidates_for(
        self, name: NormalizedName, extras: frozenset[str], reqs: Sequence[Requirement]
    ) -> list[Candidate]:
        exact = name in self.overrides.force or any(_is_exact_pin(r) for r in reqs)
        return list(self._iter_candidates(name, extras, self._allowed_versions(name, reqs), exact))

    def _candidate(
        self,
        name: NormalizedName,
        version: Version,
        extras: frozenset[str],
        files: list[DistFile],
        exact_pin: bool,
    ) -> Candidate | None:
        fitting = [f for f in files if self.env.allows_python(f.requires_python)]
        live = [f for f in fitting if not f.yanked]
        if not live and exact_pin:
            live = fitting
        # Any wheel of the version can tell us its dependencies, even one we may not install.
        any_wheels = sorted((f for f in live if f.is_wheel), key=lambda f: f.filename)
        allowed_hashes = self.overrides.hashes.get(name)
        if allowed_hashes is not None:
            live = [f for f in live if f.sha256 in allowed_hashes]
        if not live:
            return None
        ranked = [
            (rank, f.filename, f)
            for f in live
            if f.is_wheel and (rank := self.env.wheel_rank(f.wheel_tags)) is not None
        ]
        sdists = sorted(
            (f for f in live if not f.is_wheel), key=lambda f: not f.filename.endswith(".tar.gz")
        )
        sdist = sdists[0] if sdists else None
        allowed = self.overrides.formats.allowed(name)
        if "binary" not in allowed:
            ranked = []  # --no-binary: built from the sdist even where a wheel fits
        if "source" not in allowed:
            sdist = None  # --only-binary: a version without a fitting wheel is no candidate
        if ranked:
            best = min(ranked)[2]
            return Candidate(name, version, extras, best, "reuse", best, sdist)
        if sdist is None:
            return None
        metadata_wheel = any_wheels[0] if any_wheels else None
        return Candidate(name, version, extras, sdist, "build", metadata_wheel, sdist)


@dataclass
class Resolution:
    """Resolved packages (one candidate per project) and who depends on whom."""

    packages: dict[NormalizedName, Candidate]
    edges: set[tuple[NormalizedName, NormalizedName]]
    top_level: set[NormalizedName]
    extras: dict[NormalizedName, set[str]]


class FetchAhead:
    """Fetches, in the background, what a later resolution will ask for: the pages of
    ``requirements``, the metadata of their likely versions and so on down, as the
    resolver's own speculation does. For build requirements read from an sdist while the
    runtime closure is still resolving: their environment then resolves without waiting
    on the network. Guesses only; nothing is pinned or decided here."""

    def __init__(
        self,
        client: IndexClient,
        env: TargetEnvironment,
        *,
        overrides: Overrides,
        cache: ResolverCache,
        on_likely: Callable[[Candidate], None] | None = None,
    ) -> None:
        self._env = env
        self._excluded = overrides.exclude
        self._provider = PlanProvider(
            client, env, overrides=overrides, preferred={}, on_likely=on_likely, cache=cache
        )

    def __call__(self, requirements: Iterable[Requirement]) -> None:
        for requirement in requirements:
            try:
                applies = self._env.evaluate(requirement.marker)
            except MarkerError:
                continue  # the planner reports it when it reaches this environment
            if applies and canonicalize_name(requirement.name) not in self._excluded:
                self._provider.speculate(requirement)


def resolve(
    requirements: Sequence[Requirement],
    client: IndexClient,
    env: TargetEnvironment,
    *,
    overrides: Overrides | None = None,
    preferred: Mapping[NormalizedName, Version] | None = None,
    on_pin: Callable[[Candidate], None] | None = None,
    on_likely: Callable[[Candidate], None] | None = None,
    described_as: str = "the file",
    cache: ResolverCache | None = None,
) -> Resolution:
    """Resolve ``requirements`` (markers already evaluated) for ``env``. ``on_pin`` hears
    of each candidate pinned; ``on_likely``, earlier, of the newest candidate of each
    package the resolver will ask about (a guess, made while the resolver works)."""
    overrides = overrides or Overrides()
    provider = PlanProvider(
        client,
        env,
        overrides=overrides,
        preferred=preferred or {},
        on_pin=on_pin,
        on_likely=on_likely,
        cache=cache,
    )
    wanted = [r for r in requirements if canonicalize_name(r.name) not in overrides.exclude]
    for requirement in wanted:
        provider.requested_by.setdefault(
            canonicalize_name(requirement.name), (None, str(requirement))
        )
    for requirement in wanted:  # pages, metadata and what it needs, all in the background
        provider.speculate(requirement)
    resolver: Resolver[Requirement, Candidate, str] = Resolver(provider, BaseReporter())
    try:
        result = resolver.resolve(wanted, max_rounds=MAX_ROUNDS)
    except ResolutionImpossible as exc:
        raise ResolutionError(_explain(list(exc.causes), provider, described_as)) from None
    except ResolutionTooDeep:
        raise ResolutionError(
            f"the resolver gave up after {MAX_ROUNDS} rounds of backtracking; pin more versions"
        ) from None

    packages: dict[NormalizedName, Candidate] = {}
    extras: dict[NormalizedName, set[str]] = defaultdict(set)
    for candidate in result.mapping.values():
        packages.setdefault(candidate.name, candidate)
        extras[candidate.name] |= set(candidate.extras)
    edges: set[tuple[NormalizedName, NormalizedName]] = set()
    top_level: set[NormalizedName] = set()
    for parent in result.graph:
        for child in result.graph.iter_children(parent):
            if child is None:
                continue
            child_name = result.mapping[child].name
            if parent is None:
                top_level.add(child_name)
                continue
            parent_name = result.mapping[parent].name
            if parent_name != child_name:
                edges.add((parent_name, child_name))
    return Resolution(packages, edges, top_level, dict(extras))


def _explain(
    causes: Sequence[RequirementInformation[Requirement, Candidate]],
    provider: PlanProvider,
    described_as: str,
) -> str:
    """'django==5.2 requires asgiref>=3.8 but the file pins asgiref==3.7', with the chain
    of requirements that led to each side when it did not come from the file directly."""
    if len(causes) == 1:
        return _no_match(causes[0].requirement, causes[0].parent, provider, described_as)
    sentences: list[str] = []
    for cause in causes:
        if cause.parent is None:
            verb = "pins" if _is_exact_pin(cause.requirement) else "requires"
            sentence = f"{described_as} {verb} {cause.requirement}"
        else:
            sentence = (
                f"{_chain(cause.parent, provider)}{cause.parent.key} requires {cause.requirement}"
            )
        if sentence not in sentences:
            sentences.append(sentence)
    return " but ".join(sentences)


def _chain(parent: Candidate, provider: PlanProvider) -> str:
    """How ``parent`` got into the resolution: 'a==1 requires b>=2; b==2 requires c; '."""
    steps: list[str] = []
    current: NormalizedName = parent.name
    visited: set[str] = set()
    while current not in visited:
        visited.add(current)
        requester, requirement = provider.requested_by.get(current, (None, ""))
        if requester is None:
            break  # the file asked for it directly
        steps.append(f"{requester} requires {requirement}")
        current = canonicalize_name(requester.split("==")[0])
    return "".join(f"{step}; " for step in reversed(steps))


def _no_match(
    requirement: Requirement, parent: Candidate | None, provider: PlanProvider, described_as: str
) -> str:
    name = canonicalize_name(requirement.name)
    usable = sorted(
        {c.version for c in provider.candidates_for(name, frozenset(), [Requirement(name)])}
    )
    who = described_as if parent is None else f"{_chain(parent, provider)}{parent.key}"
    shown = ", ".join(str(v) for v in usable[-8:]) or "none"
    if name in provider.overrides.hashes:
        return (
            f"{who} requires {requirement}, but no file of {name} for {provider.env} matches "
            "the file's --hash values"
        )
    return (
        f"{who} requires {requirement}, but no version of {name} matching it can be installed "
        f"on {provider.env} (latest usable there: {shown})"
    )
