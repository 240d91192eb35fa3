"""The repair decision: a failed attempt's log, the catalog and what was tried so far in,
the next recipes (or a reasoned stop) out.

Three stages, each testable alone: ``hints.problems`` reads typed problems off the log,
``hints.candidates`` turns each into ranked Debian packages for the builder's suite and
architecture, and this module chooses: for each problem the best candidate not tried yet
(a problem that persists after its package was installed moves on to the next one), the
recipes of every catalog hint whose pattern matches the log, and a build requirement for
a missing Python module. It stops, saying why, when nothing new is left to try, when the
runner cannot apply what is needed, or after the allowed rounds. hints imports no other
app: the caller (``builds.repairs``) supplies the job's facts and applies the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q

from hints.candidates import Candidates, Index, candidates_for
from hints.models import Hint
from hints.patterns import LineSearch, PatternError, compile_pattern
from hints.problems import (
    BUILD_ERROR,
    PYTHON_MODULE,
    TRANSIENT,
    UNREACHABLE,
    Problem,
    find_problems,
    include_dirs,
)
from hints.recipes import combine, skip_reason, system_packages
from refinery.lib.metrics import HINT_HITS

REPAIR = "repair"  # requeue at once with the new recipes
GIVE_UP = "give_up"  # no repair found: fail for good, the problems listed
SKIP = "skip"  # a known failure: skipped_known_failure
RETRY = "retry"  # nothing to repair (the network): the usual retry with backoff
RUNNER_CANNOT = "runner_cannot"  # the fix needs system packages this runner cannot install

# A missing Python module and the distribution that provides it, where the names differ.
PYTHON_DISTRIBUTIONS = {
    "pkg_resources": "setuptools<82",  # removed from setuptools in 82
    "Cython": "cython",
    "skbuild": "scikit-build",
    "setuptools_scm": "setuptools-scm",
    "setuptools_rust": "setuptools-rust",
    "yaml": "pyyaml",
    "mesonpy": "meson-python",
    "pybind11": "pybind11",
    "numpy": "numpy",
    "cffi": "cffi",
    "pkgconfig": "pkgconfig",
    "wheel": "wheel",
    "distutils": "setuptools",
    "attr": "attrs",
    "google": "protobuf",
    "PIL": "pillow",
    "dateutil": "python-dateutil",
}


@dataclass(frozen=True)
class JobFacts:
    """What the caller knows about the job whose attempt failed."""

    package: str
    preset: str
    recipes: list[dict[str, Any]]
    origins: list[dict[str, Any]]
    rounds_done: int
    max_rounds: int
    can_install_system_packages: bool
    installed: frozenset[str] = frozenset()


@dataclass
class Decision:
    outcome: str
    message: str
    problems: list[Problem] = field(default_factory=list)
    candidates: dict[str, list[str]] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)
    recipes: list[dict[str, Any]] = field(default_factory=list)  # the job's, from now on
    origins: list[dict[str, Any]] = field(default_factory=list)  # where each new one came from

    def event_data(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "problems": [problem.as_json() for problem in self.problems],
            "candidates": self.candidates,
            "hints": self.hints,
            "recipes": self.recipes,
            "new": self.origins,
        }


def matching_hints(lines: Sequence[str], package: str, preset: str) -> list[Hint]:
    """Enabled hints with a pattern that the log matches: global ones, and the package's."""
    hints = Hint.objects.filter(enabled=True).exclude(pattern="")
    hints = hints.filter(Q(scope=Hint.Scope.GLOBAL) | Q(package=package))
    hints = hints.filter(Q(preset="") | Q(preset=preset)).order_by("name")
    matched = []
    for hint in hints:
        try:
            search = LineSearch(compile_pattern(hint.pattern))
        except PatternError:
            continue  # validated on save; one stored before the rules changed is skipped
        if search.first(list(lines)) is not None:
            matched.append(hint)
    return matched


def count_hits(names: Sequence[str]) -> None:
    Hint.objects.filter(name__in=names).update(hit_count=F("hit_count") + 1)
    for name in set(names):
        HINT_HITS.labels(name).inc()


def _tried(facts: JobFacts) -> set[str]:
    return set(system_packages(facts.recipes))


def _choose(
    problem: Problem, found: Candidates, tried: set[str]
) -> tuple[list[str], dict[str, Any]] | None:
    """The next packages for ``problem``: its best candidate not tried yet, with companions."""
    for candidate in found.ranked:
        if candidate.package not in tried:
            packages = [candidate.package, *(c for c in found.companions if c not in tried)]
            origin = {
                "packages": packages,
                "problem": problem.as_json(),
                "because": candidate.path or "named by the catalog",
                "candidates": found.packages[:5],
            }
            return packages, origin
    return None


def _python_requirement(problem: Problem) -> str:
    top = problem.name.split(".", 1)[0]
    return PYTHON_DISTRIBUTIONS.get(problem.name) or PYTHON_DISTRIBUTIONS.get(top) or top


def _summary(problems: list[Problem], candidates: dict[str, list[str]], tried: set[str]) -> str:
    parts = []
    for problem in problems:
        found = candidates.get(problem.key, [])
        if problem.kind in (BUILD_ERROR, UNREACHABLE, TRANSIENT):
            parts.append(problem.describe())
        elif not found:
            parts.append(f"{problem.describe()} (no package in the builder's suite ships it)")
        else:
            used = [p for p in found if p in tried]
            note = f"tried {', '.join(used)}" if used else f"candidates {', '.join(found)}"
            parts.append(f"{problem.describe()} ({note})")
    return "; ".join(parts) or "no problem recognised in the log"


def decide(lines: Sequence[str], facts: JobFacts, index: Index | None) -> Decision:
    """What to do after this failed attempt."""
    problems = find_problems(lines)
    hints = matching_hints(lines, facts.package, facts.preset)
    decision = Decision(GIVE_UP, "", problems, hints=[hint.name for hint in hints])
    skip = next((h for h in hints if skip_reason(h.recipes)), None)
    if skip is not None:
        decision.outcome = SKIP
        decision.hints = [skip.name]
        decision.message = f"known failure ({skip.name}): {skip_reason(skip.recipes)}"
        return decision
    if [p.kind for p in problems] == [TRANSIENT] and not hints:
        decision.outcome = RETRY
        decision.message = f"the network failed mid-build: {problems[0].evidence}"
        return decision

    tried = _tried(facts)
    fixes = _Fixes()
    chosen = _system_fixes(problems, facts, index, include_dirs(lines), decision, tried, fixes)
    tried |= chosen
    _hint_fixes(hints, facts, fixes)
    if not fixes.additions:
        # A Python module is looked at only once no system problem is left to fix: a
        # failing extension often drags an unrelated import error behind it.
        for problem in (p for p in problems if p.kind == PYTHON_MODULE):
            requirement = _python_requirement(problem)
            fixes.add(
                {"type": "build_requires", "requirements": [requirement]},
                {"requirements": [requirement], "problem": problem.as_json()},
            )
    return _verdict(decision, facts, fixes, tried)


@dataclass
class _Fixes:
    """This round's recipes, each with where it came from."""

    additions: list[dict[str, Any]] = field(default_factory=list)
    origins: list[dict[str, Any]] = field(default_factory=list)

    def add(self, recipe: dict[str, Any], origin: dict[str, Any]) -> None:
        self.additions.append(recipe)
        self.origins.append(origin)


def _system_fixes(
    problems: list[Problem],
    facts: JobFacts,
    index: Index | None,
    dirs: frozenset[str],
    decision: Decision,
    tried: set[str],
    fixes: _Fixes,
) -> set[str]:
    """A package for each system problem the builder's suite can fix; returns the packages
    chosen this round."""
    chosen: set[str] = set()
    if index is None:
        return chosen
    for problem in (p for p in problems if p.kind not in (PYTHON_MODULE, BUILD_ERROR)):
        found = candidates_for(
            problem, index, project=facts.package, installed=facts.installed, include_dirs=dirs
        )
        decision.candidates[problem.key] = found.packages + found.companions
        choice = _choose(problem, found, tried)
        # Three headers of one library are one fix: a problem whose best package this round
        # already chose is covered, not a reason to reach for its second-best.
        if choice is not None and choice[0][0] not in chosen:
            packages, origin = choice
            chosen.update(packages)
            fixes.add({"type": "system_packages", "packages": packages}, origin)
    return chosen


def _hint_fixes(hints: Sequence[Hint], facts: JobFacts, fixes: _Fixes) -> None:
    """The matching hints' recipes not applied in an earlier round."""
    for hint in hints:
        if combine(facts.recipes, hint.recipes) == combine(facts.recipes):
            continue  # applied in an earlier round already
        agrees = combine(facts.recipes, fixes.additions, hint.recipes) == combine(
            facts.recipes, fixes.additions
        )
        # A hint that names what inference found too is recorded: both paths agreed.
        origin = {
            "hint": hint.name,
            "recipes": hint.recipes,
            **({"agrees": True} if agrees else {}),
        }
        fixes.additions.extend(hint.recipes)
        fixes.origins.append(origin)


def _verdict(decision: Decision, facts: JobFacts, fixes: _Fixes, tried: set[str]) -> Decision:
    """Repair with the combined recipes, or say why not (nothing new, the runner cannot
    install system packages, or the rounds are spent)."""
    problems = decision.problems
    combined = combine(facts.recipes, fixes.additions)
    if combined == combine(facts.recipes):
        decision.message = "no repair found: " + _summary(problems, decision.candidates, tried)
        return decision
    new_packages = set(system_packages(combined)) - set(system_packages(facts.recipes))
    if new_packages and not facts.can_install_system_packages:
        decision.outcome = RUNNER_CANNOT
        decision.message = (
            f"needs system packages {', '.join(sorted(new_packages))} "
            f"({_summary(problems, decision.candidates, set())}); the local runner cannot "
            "install system packages: build with the podman runner (make images, then "
            "RUNNER=podman or --runner podman)"
        )
        return decision
    if facts.rounds_done >= facts.max_rounds:
        decision.message = (
            f"no repair found after {facts.rounds_done} repair rounds (MAX_REPAIR_ROUNDS): "
            + _summary(problems, decision.candidates, tried)
        )
        return decision
    decision.outcome = REPAIR
    decision.recipes = combined
    decision.origins = fixes.origins
    decision.message = "repair: " + "; ".join(_origin_text(origin) for origin in fixes.origins)
    return decision


def _origin_text(origin: dict[str, Any]) -> str:
    if "hint" in origin:
        return f"hint {origin['hint']}"
    what = ", ".join(origin.get("packages") or origin.get("requirements") or [])
    problem = Problem.from_json(origin["problem"]).describe()
    return f"{what} for {problem}"
