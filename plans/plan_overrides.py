"""What one plan may change about resolution: forced versions, left-out packages, hashes,
formats, and versions found unbuildable. Its own module: the planner's front (a re-plan
that is a lookup) needs it without loading the resolver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.utils import NormalizedName
from packaging.version import Version

from inputs.format_control import FormatControl


@dataclass(frozen=True)
class Overrides:
    """Per-plan overrides: force a version of a package, or leave a package out."""

    force: Mapping[NormalizedName, Version] = field(default_factory=dict)
    exclude: frozenset[NormalizedName] = frozenset()
    # --hash values from the requirements file: only files with these sha256 may be used.
    hashes: Mapping[NormalizedName, frozenset[str]] = field(default_factory=dict)
    # --no-binary / --only-binary: whether a package may come as a wheel, an sdist or both.
    formats: FormatControl = field(default_factory=FormatControl)
    # Versions the planner found cannot be built for the target (their build requirements
    # cannot be met): passed over as if they were not on the index.
    unbuildable: Mapping[NormalizedName, frozenset[Version]] = field(default_factory=dict)
