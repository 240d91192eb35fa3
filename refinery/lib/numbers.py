"""Whole numbers typed by people and other programs (command arguments, headers, ids).

``str.isdigit()`` is true for "²" and "٣", which ``int()`` reads as an error and as 3: a
check with it followed by ``int()`` lets a crafted value through to a traceback."""

from __future__ import annotations


def natural_number(text: str) -> int | None:
    """``"42"`` -> 42; None for anything but ASCII digits."""
    return int(text) if text.isascii() and text.isdigit() else None
