"""Uploads: validate a requirements file completely, then store it and record the input."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from inputs.models import PendingInput
from inputs.plan_queue import enqueue_plan
from inputs.requirements import ParsedRequirement, RequirementsError, parse_requirements
from refinery import runtime_settings
from refinery.lib.overrides import normalize_overrides
from refinery.lib.priority import Priority
from refinery.lib.target_env import TargetEnvironment, TargetError

_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._+-]")
STRATEGIES = ("pinned", "eager")


class UploadError(ValueError):
    """A rejected upload; the message names the file, line or field and the reason."""


@dataclass(frozen=True)
class UploadResult:
    pending: PendingInput
    created: bool

    @property
    def message(self) -> str:
        if self.created:
            return f"input {self.pending.pk} stored ({self.pending.status})"
        return (
            f"identical to input {self.pending.pk} ({self.pending.original_filename}, "
            f"{self.pending.status}); nothing new stored"
        )


def parse_with_limits(content: bytes, target: TargetEnvironment) -> list[ParsedRequirement]:
    """Parse a requirements file under the configured size and line limits."""
    return parse_requirements(
        content,
        target,
        max_bytes=settings.REQUIREMENTS_MAX_BYTES,
        max_lines=settings.REQUIREMENTS_MAX_LINES,
    )


def read_limited(source: BinaryIO, filename: str, size: int | None = None) -> bytes:
    """An uploaded requirements file's bytes, refused before it is read whole when it is
    over ``REQUIREMENTS_MAX_BYTES`` (by ``size`` when known, else by reading one byte more)."""
    limit = settings.REQUIREMENTS_MAX_BYTES
    if size is not None and size > limit:
        raise _too_big(filename, f"{size} bytes", limit)
    content = source.read(limit + 1)
    if len(content) > limit:
        raise _too_big(filename, f"more than {limit} bytes", limit)
    return content


def read_requirements_path(path: Path) -> bytes:
    """A requirements file from disk, within the size limit (``OSError`` if unreadable)."""
    with path.open("rb") as handle:
        return read_limited(handle, path.name, path.stat().st_size)


def _too_big(filename: str, size: str, limit: int) -> UploadError:
    return UploadError(
        f"{clean_filename(filename)}: the file is {size}, over the limit of {limit} "
        "(REQUIREMENTS_MAX_BYTES)"
    )


def clean_filename(filename: str) -> str:
    """The base name, restricted to safe characters, so it can be part of a storage key."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = _SAFE_FILENAME.sub("_", base)[:200].lstrip(".")
    return cleaned or "requirements.txt"


def upload_requirements(
    content: bytes,
    filename: str,
    *,
    python_version: str | None = None,
    platform_tag: str | None = None,
    priority: int = Priority.NORMAL,
    strategy: str | None = None,
    overrides: Any = None,
    auto_plan: bool | None = None,
) -> UploadResult:
    """Validate ``content`` for its target, store it once, and queue it for planning
    when AUTO_PLAN is on. Raises ``UploadError`` and stores nothing when anything is wrong."""
    name = clean_filename(filename)
    try:
        target = TargetEnvironment(
            python_version or runtime_settings.value("python_version"),
            platform_tag or runtime_settings.value("platform_tag"),
        )
    except TargetError as exc:
        raise UploadError(str(exc)) from None
    if priority not in Priority.values:
        raise UploadError(f"priority {priority!r} is not one of low, normal, high, critical")
    if strategy is not None and strategy not in STRATEGIES:
        raise UploadError(f"strategy {strategy!r} is not one of: {', '.join(STRATEGIES)}")
    try:
        normalized_overrides = normalize_overrides(overrides)
    except ValueError as exc:
        raise UploadError(str(exc)) from None
    try:
        parsed = parse_with_limits(content, target)
    except RequirementsError as exc:
        raise UploadError(f"{name}: {exc}") from None

    sha256 = hashlib.sha256(content).hexdigest()
    identity = {
        "sha256": sha256,
        "python_version": target.python_version,
        "platform_tag": target.platform_tag,
    }
    existing = PendingInput.objects.filter(**identity).first()
    if existing is not None:
        return UploadResult(existing, created=False)

    key = f"inputs/{sha256[:2]}/{sha256}/{name}"
    wrote_file = False
    try:
        with transaction.atomic():
            pending = PendingInput.objects.create(
                kind=PendingInput.Kind.REQUIREMENTS,
                original_filename=name,
                size=len(content),
                storage_key=key,
                parsed={
                    "requirements": [item.as_json() for item in parsed],
                    "strategy": strategy,
                    "overrides": normalized_overrides,
                },
                priority=priority,
                **identity,
            )
            if not default_storage.exists(key):
                default_storage.save(key, ContentFile(content))
                wrote_file = True
            if runtime_settings.value("auto_plan") if auto_plan is None else auto_plan:
                enqueue_plan(pending)
    except IntegrityError:
        # Someone uploaded the same file for the same target a moment before us.
        winner = PendingInput.objects.filter(**identity).first()
        if winner is None:
            raise
        return UploadResult(winner, created=False)
    except BaseException:
        if wrote_file:
            default_storage.delete(key)
        raise
    return UploadResult(pending, created=True)
