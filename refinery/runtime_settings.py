"""Runtime settings: environment defaults that operators may override while the refinery runs.

``/api/settings`` (and the admin) store overrides as ``SettingOverride`` rows; every reader
(uploads for ``auto_plan``, the planner for ``auto_build`` and the default target, the
cluster's plan and build tasks for pool sizes, remote workers through the API) asks
``value()``, so a change takes effect on the next upload, plan or worker pass without a
restart. The seeds list these toggles as informational; here they are the real switch.

Each process keeps the override rows for ``CACHE_SECONDS``: the planner and the workers
read these on every pass, and a change may take that long to reach another process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from inputs.strategy import STRATEGIES
from inputs.target_env import TargetEnvironment, TargetError
from refinery.models import SettingOverride

CACHE_SECONDS = 2.0


class SettingsError(ValueError):
    """A value an operator sent that cannot be used, with the setting's name in the message."""


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{key}: expected true or false, got {value!r}")
    return value


def _integer(low: int, high: int) -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SettingsError(f"{key}: expected an integer from {low} to {high}, got {value!r}")
        return int(value)

    return check


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise SettingsError(f"{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def _strategy(key: str, value: Any) -> str:
    if value not in STRATEGIES:
        raise SettingsError(f"{key}: expected 'pinned' or 'eager', got {value!r}")
    return str(value)


@dataclass(frozen=True)
class RuntimeSetting:
    key: str
    environment_name: str  # the Django setting (and environment variable) it overrides
    check: Callable[[str, Any], Any]
    help: str


SETTINGS: Mapping[str, RuntimeSetting] = {
    s.key: s
    for s in (
        RuntimeSetting(
            "auto_plan", "AUTO_PLAN", _boolean, "Uploads are queued for planning at once."
        ),
        RuntimeSetting(
            "auto_build", "AUTO_BUILD", _boolean, "A saved plan enqueues its builds at once."
        ),
        RuntimeSetting(
            "plan_pool_size",
            "PLAN_POOL_SIZE",
            _integer(1, 64),
            "Inputs a plan worker takes per pass.",
        ),
        RuntimeSetting(
            "build_pool_size",
            "BUILD_POOL_SIZE",
            _integer(1, 256),
            "Builds a worker runs at once.",
        ),
        RuntimeSetting(
            "python_version",
            "PYTHON_VERSION",
            _text,
            "Target Python of uploads and plans that name none (/simple/ keeps the "
            "environment's target; every target has /t/<slug>/simple/).",
        ),
        RuntimeSetting(
            "platform_tag",
            "PLATFORM_TAG",
            _text,
            "Target platform of uploads and plans that name none.",
        ),
        RuntimeSetting(
            "upgrade_strategy",
            "UPGRADE_STRATEGY",
            _strategy,
            "pinned: keep the file's pins and prefer installed versions; eager: newest.",
        ),
    )
}

_lock = threading.Lock()
_cached: tuple[float, dict[str, SettingOverride]] | None = None


def invalidate() -> None:
    """Forget this process's copy of the overrides (after a change, and between tests)."""
    global _cached
    with _lock:
        _cached = None


def _overrides() -> dict[str, SettingOverride]:
    global _cached
    now = time.monotonic()
    with _lock:
        if _cached is not None and now - _cached[0] < CACHE_SECONDS:
            return _cached[1]
    rows = {row.key: row for row in SettingOverride.objects.all()}
    with _lock:
        _cached = (now, rows)
    return rows


def default(key: str) -> Any:
    return getattr(settings, SETTINGS[key].environment_name)


def value(key: str) -> Any:
    """The setting's current value: the operator's override, else the environment's."""
    if key not in SETTINGS:
        raise KeyError(f"unknown runtime setting {key!r}")
    row = _overrides().get(key)
    return row.value if row is not None else default(key)


@dataclass(frozen=True)
class SettingState:
    key: str
    value: Any
    default: Any
    overridden: bool
    updated_at: datetime | None
    updated_by: str
    help: str


def describe() -> list[SettingState]:
    overrides = _overrides()
    states = []
    for key, setting in SETTINGS.items():
        row = overrides.get(key)
        states.append(
            SettingState(
                key=key,
                value=row.value if row is not None else default(key),
                default=default(key),
                overridden=row is not None,
                updated_at=row.updated_at if row is not None else None,
                updated_by=row.updated_by if row is not None else "",
                help=setting.help,
            )
        )
    return states


def update(changes: Mapping[str, Any], *, actor: str) -> list[SettingState]:
    """Apply ``changes`` (``null`` resets a setting to the environment's value): all of
    them or, when any is invalid, none, with a ``SettingsError`` naming the first."""
    if not changes:
        raise SettingsError('no settings given: send an object such as {"auto_build": false}')
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        raise SettingsError(f"{unknown[0]}: not a runtime setting (known: {', '.join(SETTINGS)})")
    checked = {
        key: None if raw is None else SETTINGS[key].check(key, raw) for key, raw in changes.items()
    }
    current = {key: value(key) for key in SETTINGS}
    after = {**current, **{k: default(k) if v is None else v for k, v in checked.items()}}
    try:
        TargetEnvironment(str(after["python_version"]), str(after["platform_tag"]))
    except TargetError as exc:
        field = "platform_tag" if "platform_tag" in changes else "python_version"
        raise SettingsError(f"{field}: {exc}") from None
    with transaction.atomic():
        for key, new in checked.items():
            if new is None:
                SettingOverride.objects.filter(key=key).delete()
            else:
                SettingOverride.objects.update_or_create(
                    key=key, defaults={"value": new, "updated_by": actor[:200]}
                )
        transaction.on_commit(invalidate)
    invalidate()
    return describe()
