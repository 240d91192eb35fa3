"""What the package page shows of one project: versions by targets, artifacts, builds and
their timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from builds.models import Artifact, BuildEvent, BuildJob
from plans.models import Target

TIMELINE_EVENTS = 300


@dataclass
class Cell:
    """One version on one target: the wheels it has and its latest build."""

    artifacts: list[Artifact] = field(default_factory=list)
    job: BuildJob | None = None

    @property
    def state(self) -> str:
        if any(not a.yanked for a in self.artifacts):
            return "available"
        if self.job is not None:
            return str(self.job.status)
        return "yanked" if self.artifacts else ""


@dataclass(frozen=True)
class PackageOverview:
    name: str
    targets: list[Target]
    rows: list[tuple[str, list[Cell]]]
    artifacts: list[Artifact]
    jobs: list[BuildJob]
    events: list[BuildEvent]


def _version_key(version: str) -> tuple[int, Any]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def package_overview(name: str) -> PackageOverview | None:
    """Everything about ``name`` (already canonical), or None when nothing is known of it."""
    jobs = list(
        BuildJob.objects.filter(name=name)
        .select_related("target", "regressed_from")
        .order_by("-enqueued_at", "-id")
    )
    artifacts = list(
        Artifact.objects.filter(name=name)
        .select_related("target", "job")
        .order_by("-uploaded_at", "-id")
    )
    if not jobs and not artifacts:
        return None
    targets = sorted(
        {j.target for j in jobs} | {a.target for a in artifacts},
        key=lambda t: (t.python_version, t.platform_tag),
    )
    cells: dict[tuple[str, int], Cell] = {}
    for artifact in artifacts:
        cells.setdefault((artifact.version, artifact.target_id), Cell()).artifacts.append(artifact)
    for job in jobs:  # newest first: the first seen is the latest
        cell = cells.setdefault((job.version, job.target_id), Cell())
        if cell.job is None:
            cell.job = job
    versions = sorted({version for version, _ in cells}, key=_version_key, reverse=True)
    rows = [(v, [cells.get((v, t.pk), Cell()) for t in targets]) for v in versions]
    events = list(
        BuildEvent.objects.filter(job__name=name)
        .select_related("job", "job__target")
        .order_by("-created_at", "-id")[:TIMELINE_EVENTS]
    )
    return PackageOverview(name, targets, rows, artifacts, jobs, events)
