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

from inputs.format_control import FormatControl, FormatControlError
from inputs.models import PendingInput
from inputs.overrides import normalize_overrides
from inputs.plan_queue import REPLANNABLE, enqueue_plan, replan
from inputs.priority import Priority
from inputs.requirements import ParsedFile, RequirementsError, parse_requirements
from inputs.strategy import STRATEGIES
from inputs.target_env import TargetEnvironment, TargetError
from refinery import runtime_settings

_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._+-]")


class UploadError(ValueError):
    """A rejected upload; the message names the file, line or field and the reason."""


@dataclass(frozen=True)
class UploadResult:
    pending: PendingInput
    created: bool
    # An identical file sent with other options: the input took them (and is replanned).
    options_changed: bool = False

    @property
    def message(self) -> str:
        if self.created:
            return f"input {self.pending.pk} stored ({self.pending.status})"
        if self.options_changed:
            return (
                f"identical to input {self.pending.pk} ({self.pending.original_filename}); "
                f"it now has this upload's options ({self.pending.status})"
            )
        return (
            f"identical to input {self.pending.pk} ({self.pending.original_filename}, "
            f"{self.pending.status}); nothing new stored"
        )


def parse_with_limits(content: bytes, target: TargetEnvironment) -> ParsedFile:
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
    no_binary: str | None = None,
    only_binary: str | None = None,
) -> UploadResult:
    """Validate ``content`` for its target, store it once, and queue it for planning
    when AUTO_PLAN is on. ``no_binary``/``only_binary`` are pip's options (comma lists,
    ``:all:``, ``:none:``), applied after the file's own lines. Raises ``UploadError`` and
    stores nothing when anything is wrong."""
    name = clean_filename(filename)
    target = _upload_target(python_version, platform_tag)
    if priority not in Priority.values:
        raise UploadError(f"priority {priority!r} is not one of low, normal, high, critical")
    try:
        parsed = parse_with_limits(content, target)
    except RequirementsError as exc:
        raise UploadError(f"{name}: {exc}") from None
    options = _plan_options(
        strategy, overrides, _with_flags(parsed.format_control, no_binary, only_binary)
    )

    identity = {
        "sha256": hashlib.sha256(content).hexdigest(),
        "python_version": target.python_version,
        "platform_tag": target.platform_tag,
    }
    existing = PendingInput.objects.filter(**identity).first()
    if existing is not None:
        return _identical(existing, options, auto_plan)
    fields = {
        "kind": PendingInput.Kind.REQUIREMENTS,
        "original_filename": name,
        "size": len(content),
        "parsed": {"requirements": [item.as_json() for item in parsed.requirements], **options},
        "priority": priority,
        **identity,
    }
    return _store_new(content, fields, auto_plan)


def _upload_target(python_version: str | None, platform_tag: str | None) -> TargetEnvironment:
    try:
        return TargetEnvironment(
            python_version or runtime_settings.value("python_version"),
            platform_tag or runtime_settings.value("platform_tag"),
        )
    except TargetError as exc:
        raise UploadError(str(exc)) from None


def _plan_options(strategy: str | None, overrides: Any, formats: FormatControl) -> dict[str, Any]:
    """What the upload asks of its plans, beside the file: stored with it, compared on a
    re-upload."""
    if strategy is not None and strategy not in STRATEGIES:
        raise UploadError(f"strategy {strategy!r} is not one of: {', '.join(STRATEGIES)}")
    try:
        normalized_overrides = normalize_overrides(overrides)
    except ValueError as exc:
        raise UploadError(str(exc)) from None
    return {
        "strategy": strategy,
        "overrides": normalized_overrides,
        "format_control": formats.as_json(),
    }


def _store_new(content: bytes, fields: dict[str, Any], auto_plan: bool | None) -> UploadResult:
    """The row and the file together, or neither; queued for planning under AUTO_PLAN."""
    key = f"inputs/{fields['sha256'][:2]}/{fields['sha256']}/{fields['original_filename']}"
    wrote_file = False
    try:
        with transaction.atomic():
            pending = PendingInput.objects.create(storage_key=key, **fields)
            if not default_storage.exists(key):
                default_storage.save(key, ContentFile(content))
                wrote_file = True
            if runtime_settings.value("auto_plan") if auto_plan is None else auto_plan:
                enqueue_plan(pending)
    except IntegrityError:
        # Someone uploaded the same file for the same target a moment before us.
        identity = {k: fields[k] for k in ("sha256", "python_version", "platform_tag")}
        winner = PendingInput.objects.filter(**identity).first()
        if winner is None:
            raise
        return UploadResult(winner, created=False)
    except BaseException:
        if wrote_file:
            default_storage.delete(key)
        raise
    return UploadResult(pending, created=True)


def _with_flags(
    formats: FormatControl, no_binary: str | None, only_binary: str | None
) -> FormatControl:
    """The file's --no-binary/--only-binary state with the upload's own flags after it."""
    for option, value in (("--no-binary", no_binary), ("--only-binary", only_binary)):
        if value is None:
            continue
        try:
            formats.add(option, value)
        except FormatControlError as exc:
            raise UploadError(str(exc)) from None
    return formats


def _identical(
    existing: PendingInput, options: dict[str, Any], auto_plan: bool | None
) -> UploadResult:
    """The same file for the same target again: nothing is stored twice; other options
    (strategy, overrides, --no-binary/--only-binary) are taken and the input replanned."""
    stored = {key: (existing.parsed or {}).get(key) for key in options}
    if stored.get("format_control") is None:
        stored["format_control"] = FormatControl().as_json()
    if stored == options:
        return UploadResult(existing, created=False)
    if existing.status == PendingInput.Status.PLANNING:
        raise UploadError(
            f"identical to input {existing.pk}, which is being planned with other options; "
            "upload again once it is planned"
        )
    with transaction.atomic():
        changed = PendingInput.objects.filter(pk=existing.pk, status=existing.status).update(
            parsed={**(existing.parsed or {}), **options}
        )
        if not changed:
            raise UploadError(f"input {existing.pk} changed meanwhile; upload again")
        existing.refresh_from_db()
        plan_now = runtime_settings.value("auto_plan") if auto_plan is None else auto_plan
        if plan_now and existing.status in REPLANNABLE:
            existing = replan(existing)
        elif plan_now and existing.status == PendingInput.Status.PENDING:
            existing = enqueue_plan(existing)
    return UploadResult(existing, created=False, options_changed=True)
