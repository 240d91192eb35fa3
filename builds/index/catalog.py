"""Which stored wheels each index shows.

Our store is one content-addressed library; an index is a view of it for one target: every
artifact whose wheel tags install on that target's Python and platform, whichever target it
was first built or fetched for (a ``py3-none-any`` wheel serves every target).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name

from builds.models import Artifact
from inputs.target_env import TargetEnvironment, TargetError
from plans.models import Target

_SLUG = re.compile(r"cp(?P<major>3)(?P<minor>\d{1,2})-(?P<platform>[a-z0-9_]+)")


@dataclass(frozen=True)
class IndexTarget:
    """A target as the index sees it: named by its slug, e.g. ``cp311-manylinux_2_17_s390x``."""

    python_version: str
    platform_tag: str
    _compatible: dict[tuple[str, ...], bool] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @property
    def slug(self) -> str:
        major, minor = self.python_version.split(".")[:2]
        return f"cp{major}{minor}-{self.platform_tag}"

    @cached_property
    def environment(self) -> TargetEnvironment:
        return TargetEnvironment(self.python_version, self.platform_tag)

    def installs(self, tags: Iterable[str]) -> bool:
        """Whether a wheel with these tags installs on this target (memoized per tag set)."""
        key = tuple(tags)
        known = self._compatible.get(key)
        if known is None:
            parsed = frozenset(tag for text in key for tag in parse_tag(text))
            known = self._compatible[key] = self.environment.wheel_rank(parsed) is not None
        return known

    @classmethod
    def for_target(cls, target: Target) -> IndexTarget:
        return cls(target.python_version, target.platform_tag)


def default_target() -> IndexTarget:
    """The target served at ``/simple/`` (``PYTHON_VERSION`` and ``PLATFORM_TAG``)."""
    major, minor = settings.PYTHON_VERSION.split(".")[:2]
    return IndexTarget(f"{major}.{minor}", settings.PLATFORM_TAG)


def index_targets() -> list[IndexTarget]:
    """Every target with an index: the default one and each target the refinery knows."""
    targets = [default_target()]
    for target in Target.objects.order_by("pk"):
        candidate = IndexTarget.for_target(target)
        if candidate not in targets:
            targets.append(candidate)
    return targets


def parse_slug(slug: str) -> IndexTarget | None:
    """``cp311-manylinux_2_17_s390x`` as a target, or None when it names no valid one."""
    match = _SLUG.fullmatch(slug)
    if match is None:
        return None
    candidate = IndexTarget(f"{match['major']}.{match['minor']}", match["platform"])
    try:
        candidate.environment  # noqa: B018 - validates the platform tag
    except TargetError:
        return None
    return candidate


def target_for_slug(slug: str | None) -> IndexTarget | None:
    """The index target a URL names (``None`` = the default), or None when there is none."""
    if slug is None:
        return default_target()
    candidate = parse_slug(slug)
    return candidate if candidate is not None and candidate in index_targets() else None


def project_files(target: IndexTarget, name: str) -> list[Artifact]:
    """The artifacts of one project (normalized name) that install on ``target`` (a file
    name is unique in the store, so each is one link)."""
    files = Artifact.objects.filter(name=name).defer("core_metadata").order_by("filename")
    return [artifact for artifact in files if target.installs(artifact.tags)]


def project_names(target: IndexTarget) -> list[str]:
    """The normalized names of every project with at least one file for ``target``."""
    names: set[str] = set()
    for name, tags in Artifact.objects.values_list("name", "tags").distinct():
        if name not in names and target.installs(tags):
            names.add(name)
    return sorted(names)


def artifacts_for_pins(
    target: Target, pins: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[Artifact]]:
    """Our wheels (newest first) of many pins that install on ``target``, in one query (a
    whole plan's nodes), keyed by (normalized name, version); pins with no wheel are absent."""
    wanted = {(canonicalize_name(name), version) for name, version in pins}
    index_target = IndexTarget.for_target(target)
    found: dict[tuple[str, str], list[Artifact]] = {}
    candidates = (
        Artifact.objects.filter(name__in={name for name, _ in wanted})
        .defer("core_metadata")
        .order_by("-uploaded_at", "-pk")
    )
    for artifact in candidates:
        pin = (artifact.name, artifact.version)
        if pin in wanted and index_target.installs(artifact.tags):
            found.setdefault(pin, []).append(artifact)
    return found
