"""Plan overrides: force a version of a package, or leave a package out of the plan.

Shape: ``{"force": {"name": "version"}, "exclude": ["name"]}`` (both optional). The
setting ``PLAN_OVERRIDES_JSON`` gives defaults; an upload may add its own.
"""

from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


def normalize_overrides(data: Any) -> dict[str, Any]:
    """Validate and normalize; raises ``ValueError`` with a one-line reason."""
    if data in (None, "", {}):
        return {"force": {}, "exclude": []}
    if not isinstance(data, dict) or set(data) - {"force", "exclude"}:
        raise ValueError('overrides must be an object with "force" and/or "exclude"')
    force_raw = data.get("force", {})
    exclude_raw = data.get("exclude", [])
    if not isinstance(force_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in force_raw.items()
    ):
        raise ValueError('overrides "force" must map package names to version strings')
    if not isinstance(exclude_raw, list) or not all(isinstance(v, str) for v in exclude_raw):
        raise ValueError('overrides "exclude" must be a list of package names')
    force = {}
    for name, version in force_raw.items():
        try:
            force[canonicalize_name(name)] = str(Version(version))
        except InvalidVersion:
            raise ValueError(
                f'overrides "force": {version!r} is not a valid version of {name}'
            ) from None
    return {"force": force, "exclude": sorted({canonicalize_name(n) for n in exclude_raw})}


def merge_overrides(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The upload's own overrides win over the deployment's defaults."""
    first, second = normalize_overrides(base), normalize_overrides(extra)
    return {
        "force": {**first["force"], **second["force"]},
        "exclude": sorted(set(first["exclude"]) | set(second["exclude"])),
    }
