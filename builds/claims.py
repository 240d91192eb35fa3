"""A claimed job as JSON: what ``/api/build-queue/pop`` sends a remote worker.

Both ends use these two functions, so the worker builds from exactly what the local
cluster would have built from. The remote side checks every field, since a job that
arrives half-formed must fail loudly, not build something else.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError

from builds.runners.base import BuildSpec
from builds.worker import ClaimedJob
from hints.recipes import validate_recipes
from refinery.lib.pins import name_problem, version_problem

_SHA256 = re.compile(r"[0-9a-f]{64}")


class ClaimFormatError(ValueError):
    pass


def claim_to_json(job: ClaimedJob) -> dict[str, Any]:
    spec = job.spec
    return {
        "id": job.id,
        "attempt": job.attempt,
        "name": spec.name,
        "version": spec.version,
        "python_tag": spec.python_tag,
        "platform_tag": spec.platform_tag,
        "target_python": job.target_python,
        "target_platform": job.target_platform,
        "sdist_url": spec.sdist_url,
        "sdist_sha256": spec.sdist_sha256,
        "recipes": spec.recipes,
        "index_urls": spec.index_urls,
        "source_date_epoch": spec.source_date_epoch,
        "build_requires": job.build_requires,
    }


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ClaimFormatError(f"claimed job: {name} is missing or not a {kind.__name__}")
    return value


def claim_from_json(data: Any) -> ClaimedJob:
    if not isinstance(data, dict):
        raise ClaimFormatError("claimed job: not an object")
    job_id = _field(data, "id", int)
    sha256 = _field(data, "sdist_sha256", str)
    if not _SHA256.fullmatch(sha256):
        raise ClaimFormatError(f"claimed job {job_id}: sdist_sha256 is not a sha256")
    url = _field(data, "sdist_url", str)
    if not url.startswith(("https://", "http://")):
        raise ClaimFormatError(f"claimed job {job_id}: sdist_url is not an http(s) URL")
    recipes = _field(data, "recipes", list)
    try:
        validate_recipes(recipes)
    except ValidationError as exc:
        raise ClaimFormatError(f"claimed job {job_id}: {exc.messages[0]}") from None
    name, version = _field(data, "name", str), _field(data, "version", str)
    problem = name_problem(name) or version_problem(version)
    if problem is not None:
        raise ClaimFormatError(f"claimed job {job_id}: {problem}")
    spec = BuildSpec(
        job_id=job_id,
        name=name,
        version=version,
        python_tag=_field(data, "python_tag", str),
        platform_tag=_field(data, "platform_tag", str),
        sdist_url=url,
        sdist_sha256=sha256,
        recipes=recipes,
        index_urls=[str(u) for u in _field(data, "index_urls", list)],
        source_date_epoch=_field(data, "source_date_epoch", int),
    )
    return ClaimedJob(
        id=job_id,
        attempt=_field(data, "attempt", int),
        spec=spec,
        target_python=_field(data, "target_python", str),
        target_platform=_field(data, "target_platform", str),
        build_requires=[str(r) for r in _field(data, "build_requires", list)],
    )
