"""Reproducibility: build an artifact again in a fresh environment from what its provenance
recorded (sdist and its hash, recipes, build environment pins, SOURCE_DATE_EPOCH, runner),
repair it the same way, and compare the bytes with the stored wheel. The artifact records
the verdict, and when the bytes differ, which members do (or that only the archive's own
metadata does)."""

from __future__ import annotations

import hashlib
import logging
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from builds.failure_classes import TailSink
from builds.log_sink import KeptLines
from builds.models import Artifact
from builds.runners.base import BuildSpec, Runner
from builds.runners.configured import runner_named
from builds.worker import ClaimedJob, LocalBuildQueue, repaired

logger = logging.getLogger(__name__)


class ReproduceError(ValueError):
    """An artifact that cannot be rebuilt from its provenance, and why."""


@dataclass
class Reproduction:
    reproducible: bool
    rebuilt_sha256: str = ""
    differing: list[str] = field(default_factory=list)
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "reproducible": self.reproducible,
            "rebuilt_sha256": self.rebuilt_sha256,
            "differing_members": self.differing,
            "detail": self.detail,
        }


def _claimed(artifact: Artifact) -> ClaimedJob:
    recorded = artifact.provenance or {}
    if artifact.origin != Artifact.Origin.BUILT or artifact.job_id is None:
        raise ReproduceError(f"{artifact.filename} was not built here ({artifact.origin})")
    missing = [key for key in ("sdist_url", "sdist_sha256", "runner") if not recorded.get(key)]
    if missing:
        raise ReproduceError(f"{artifact.filename}: its provenance lacks {', '.join(missing)}")
    target = artifact.target
    return ClaimedJob(
        id=artifact.job_id,
        attempt=0,
        spec=BuildSpec(
            job_id=artifact.job_id,
            name=artifact.name,
            version=artifact.version,
            python_tag=target.python_tag,
            platform_tag=target.platform_tag,
            sdist_url=recorded["sdist_url"],
            sdist_sha256=recorded["sdist_sha256"],
            recipes=list(recorded.get("recipes") or []),
            index_urls=[settings.INDEX_URL, *settings.EXTRA_INDEX_URL],
            source_date_epoch=int(recorded.get("source_date_epoch") or 315532800),
        ),
        target_python=target.python_version,
        target_platform=target.platform_tag,
        build_requires=list(recorded.get("build_requires") or []),
    )


def _member_digests(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {
            info.filename: hashlib.sha256(archive.read(info)).hexdigest()
            for info in archive.infolist()
        }


def compare(stored: Path, rebuilt: Path) -> Reproduction:
    digest = hashlib.sha256(rebuilt.read_bytes()).hexdigest()
    if digest == hashlib.sha256(stored.read_bytes()).hexdigest():
        return Reproduction(True, digest, [], "identical bytes")
    before, after = _member_digests(stored), _member_digests(rebuilt)
    differing = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    detail = (
        f"{len(differing)} member(s) differ"
        if differing
        else "the same members with the same contents; the archive's metadata (dates, "
        "order, compression) differs"
    )
    return Reproduction(False, digest, differing, detail)


def reproduce(artifact: Artifact, runner: Runner | None = None) -> Reproduction:
    """Rebuild ``artifact`` and record the verdict on it."""
    job = _claimed(artifact)
    runner = runner or runner_named(str(artifact.provenance["runner"]))
    kept = KeptLines()
    sink = TailSink(kept)
    with tempfile.TemporaryDirectory(prefix=f"refinery-reproduce-{artifact.pk}-") as name:
        work = Path(name)
        pins = LocalBuildQueue().wheelhouse(job, work / "wheelhouse")
        recorded = artifact.provenance.get("build_environment")
        if recorded is not None and sorted(pins) != sorted(recorded):
            sink.write(f"reproduce: the job's build environment is now {pins}, not {recorded}")
        spec = replace(
            job.spec,
            wheelhouse=work / "wheelhouse",
            constraints=tuple(recorded if recorded is not None else pins),
        )
        result = runner.run(spec, work / "wheels", sink, cancelled=lambda: False)
        if not result.ok or len(result.wheels) != 1:
            verdict = Reproduction(
                False,
                detail=f"the rebuild failed: {result.detail or result.reason}; "
                + " | ".join(kept.lines[-5:]),
            )
        else:
            wheel = repaired(
                result.wheels[0], job, spec, runner, work, sink, cancelled=lambda: False
            )
            stored = work / "stored.whl"
            with default_storage.open(artifact.storage_key) as source:
                stored.write_bytes(source.read())
            verdict = compare(stored, wheel)
    Artifact.objects.filter(pk=artifact.pk).update(
        reproducible=verdict.reproducible,
        reproduced_at=timezone.now(),
        reproduction={**verdict.as_json(), "runner": runner.name},
    )
    logger.info("reproduce %s: %s (%s)", artifact.filename, verdict.reproducible, verdict.detail)
    return verdict
