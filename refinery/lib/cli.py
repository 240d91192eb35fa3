"""Helpers for management commands: parse arguments ourselves so errors stay one line."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.core.management.base import CommandError

from refinery.lib.numbers import natural_number


def parse_ids(values: Iterable[str], what: str) -> list[int]:
    """``["3", "7"]`` -> ``[3, 7]``; a ``CommandError`` naming the bad value otherwise."""
    ids = []
    for value in values:
        if natural_number(value) is None or int(value) < 1:
            raise CommandError(f"{value!r} is not a valid {what} id (a positive integer)")
        ids.append(int(value))
    return ids


def format_age(age: timedelta | None) -> str:
    if age is None:
        return "-"
    seconds = int(age.total_seconds())
    if seconds < 60:
        return f"{age.total_seconds():.1f}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table, readable in a terminal and in logs."""
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)
