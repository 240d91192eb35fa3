"""The one way to get a target's row: made on first use by whoever needs it first (a plan, a
queued job, an uploaded wheel, a subscription)."""

from __future__ import annotations

from plans.models import Target


def target_row(python_version: str, platform_tag: str) -> Target:
    """The Target for a Python version (at any precision: 3.11.9 is 3.11) and platform tag.
    Concurrent callers get the same row (get_or_create under the unique constraint)."""
    major_minor = ".".join(python_version.split(".")[:2])
    target, _ = Target.objects.get_or_create(python_version=major_minor, platform_tag=platform_tag)
    return target
