"""The environment a plan resolves for: markers and wheel tags of a target, not of this host."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from types import MappingProxyType

from packaging import tags
from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.version import Version

_PLATFORM = re.compile(
    r"(?P<family>manylinux|musllinux)_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>\w+)"
    r"|manylinux2014_(?P<arch2014>\w+)|linux_(?P<archlinux>\w+)"
)
# The legacy manylinux names, as pip and packaging spell them beside the PEP 600 ones.
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
# Architectures whose manylinux history starts before glibc 2.17.
_OLD_GLIBC_ARCHES = frozenset({"x86_64", "i686"})


class TargetError(ValueError):
    pass


class MarkerError(ValueError):
    """A marker that parses but cannot be evaluated (``python_version ~= '1'``): packaging
    raises, where pip would crash; callers say which line or package carried it."""


def platform_arch(platform_tag: str) -> str:
    """``manylinux_2_17_s390x`` -> ``s390x``."""
    match = _PLATFORM.fullmatch(platform_tag)
    if match is None:
        raise TargetError(f"platform {platform_tag!r} is not a Linux platform tag")
    return str(match.group("arch") or match.group("arch2014") or match.group("archlinux"))


@lru_cache(maxsize=4096)
def _python_allowed(requires_python: str, python_full_version: str) -> bool:
    """Cached: every file of a project usually carries the same requires-python string."""
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True  # pip ignores an unparsable requires-python; so do we
    return spec.contains(Version(python_full_version), prereleases=True)


@dataclass(frozen=True)
class TargetEnvironment:
    """CPython ``python_version`` (``3.11`` or ``3.11.7``) on the Linux ``platform_tag``."""

    python_version: str
    platform_tag: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"3\.\d{1,2}(\.\d{1,3})?", self.python_version):
            raise TargetError(f"python version {self.python_version!r} is not like 3.11 or 3.11.7")
        if not _PLATFORM.fullmatch(self.platform_tag):
            raise TargetError(
                f"platform {self.platform_tag!r} is not a Linux platform tag such as "
                "manylinux_2_17_s390x"
            )

    @property
    def python_full_version(self) -> str:
        """Markers need a micro version; ``3.11`` is read as ``3.11.0`` (as uv does)."""
        parts = self.python_version.split(".")
        return ".".join(parts + ["0"] * (3 - len(parts)))

    @property
    def python_major_minor(self) -> tuple[int, int]:
        major, minor = self.python_version.split(".")[:2]
        return int(major), int(minor)

    @property
    def python_tag(self) -> str:
        major, minor = self.python_major_minor
        return f"cp{major}{minor}"

    @property
    def arch(self) -> str:
        return platform_arch(self.platform_tag)

    @cached_property
    def markers(self) -> dict[str, str]:
        """The PEP 508 marker environment of the target."""
        major, minor = self.python_major_minor
        return {
            "implementation_name": "cpython",
            "implementation_version": self.python_full_version,
            "os_name": "posix",
            "platform_machine": self.arch,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": self.python_full_version,
            "python_version": f"{major}.{minor}",
            "sys_platform": "linux",
        }

    def evaluate(self, marker: Marker | None, extras: frozenset[str] = frozenset()) -> bool:
        """Whether ``marker`` holds on the target; ``MarkerError`` when it cannot be decided."""
        if marker is None:
            return True
        try:
            if not extras:
                return marker.evaluate({**self.markers, "extra": ""})
            return any(marker.evaluate({**self.markers, "extra": extra}) for extra in extras)
        except (UndefinedComparison, UndefinedEnvironmentName, InvalidMarker, ValueError) as exc:
            raise MarkerError(f"the marker '{marker}' cannot be evaluated: {exc}") from None

    def allows_python(self, requires_python: str | None) -> bool:
        if not requires_python:
            return True
        return _python_allowed(requires_python, self.python_full_version)

    @cached_property
    def platforms(self) -> list[str]:
        """Platform tags the target accepts, most specific first (as packaging orders them)."""
        match = _PLATFORM.fullmatch(self.platform_tag)
        assert match is not None
        arch = self.arch
        if match.group("arch2014"):
            family, major, top = "manylinux", 2, 17
        elif match.group("archlinux"):
            return [f"linux_{arch}"]
        else:
            family, major, top = (
                match.group("family"),
                int(match.group("major")),
                int(match.group("minor")),
            )
        platforms: list[str] = []
        if family == "manylinux":
            floor = 5 if arch in _OLD_GLIBC_ARCHES else 17
            for minor in range(top, floor - 1, -1):
                platforms.append(f"manylinux_{major}_{minor}_{arch}")
                legacy = _LEGACY_MANYLINUX.get((major, minor))
                if legacy:
                    platforms.append(f"{legacy}_{arch}")
        else:
            platforms += [f"musllinux_{major}_{minor}_{arch}" for minor in range(top, -1, -1)]
        platforms.append(f"linux_{arch}")
        return platforms

    @property
    def tags(self) -> list[Tag]:
        """Every wheel tag the target installs, best first."""
        return list(self.tag_rank)

    @property
    def tag_rank(self) -> Mapping[Tag, int]:
        # Some 1,600 tags for a manylinux target: made once per target and process, not per
        # instance (a drain's bookkeeping made about four instances per build).
        return _tag_rank(self.python_version, self.platform_tag)

    def wheel_rank(self, wheel_tags: frozenset[Tag]) -> int | None:
        """How good a wheel with these tags is for the target (lower is better).

        None when the target cannot install it."""
        ranks = [self.tag_rank[t] for t in wheel_tags if t in self.tag_rank]
        return min(ranks) if ranks else None

    def __str__(self) -> str:
        return f"{self.python_tag}-{self.platform_tag}"


@lru_cache(maxsize=64)
def _tag_rank(python_version: str, platform_tag: str) -> Mapping[Tag, int]:
    environment = TargetEnvironment(python_version, platform_tag)
    version, platforms = environment.python_major_minor, environment.platforms
    ranked = [
        *tags.cpython_tags(version, platforms=platforms),
        *tags.compatible_tags(version, interpreter=environment.python_tag, platforms=platforms),
    ]
    return MappingProxyType({tag: rank for rank, tag in enumerate(ranked)})
