"""Filters the pages share: JSON shown readably, durations in words a person reads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django import template

from refinery.lib.cli import format_age

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@register.filter
def compact_json(value: Any) -> str:
    """One line, for short values such as a job's recipes."""
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


@register.filter
def duration(value: timedelta | None) -> str:
    """``timedelta(seconds=75)`` -> ``1m15s``; None -> ``-``."""
    return format_age(value)


@register.filter
def elapsed(end: datetime | None, start: datetime | None) -> str:
    """``{{ finished|elapsed:started }}``: the time between two moments, or ``-``."""
    if end is None or start is None:
        return "-"
    return format_age(max(timedelta(0), end - start))
