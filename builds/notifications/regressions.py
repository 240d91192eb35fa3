"""A regression: a job fails for good for a package that built before for the same target,
at this version or an earlier one (the next release of something that used to build)."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from builds.models import BuildJob

# Enough built jobs of one package to find the newest at or below a version.
_LOOK_BACK = 200


def earlier_success(job: BuildJob) -> BuildJob | None:
    """The newest built job of the package for the target at or below ``job``'s version."""
    try:
        failed_version = Version(job.version)
    except InvalidVersion:
        return None
    best: tuple[Version, BuildJob] | None = None
    built = (
        BuildJob.objects.filter(
            name=job.name, target_id=job.target_id, status=BuildJob.Status.BUILT
        )
        .exclude(pk=job.pk)
        .order_by("-finished_at", "-id")[:_LOOK_BACK]
    )
    for candidate in built:
        try:
            version = Version(candidate.version)
        except InvalidVersion:
            continue
        if version <= failed_version and (best is None or version > best[0]):
            best = (version, candidate)
    return best[1] if best else None
