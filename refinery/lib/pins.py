"""Package names and versions as they may enter the refinery from outside.

Versions flow into constraint files, container environments and pip's arguments, so a
version is only ever a PEP 440 version written with the characters PEP 440 uses (packaging
alone accepts surrounding whitespace, and a newline is how a constraint file gains an
option line).
"""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

MAX_NAME = 200
MAX_VERSION = 100
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]*")


def version_problem(text: object) -> str | None:
    """Why ``text`` is not a PEP 440 version fit to pin, or None when it is one."""
    if not isinstance(text, str) or not text:
        return "a version is required"
    if len(text) > MAX_VERSION:
        return f"a version has at most {MAX_VERSION} characters"
    if not _VERSION_TEXT.fullmatch(text):
        return f"{text[:40]!r} is not a PEP 440 version"
    try:
        Version(text)
    except InvalidVersion:
        return f"{text[:40]!r} is not a PEP 440 version"
    return None


def name_problem(text: object) -> str | None:
    """Why ``text`` is not a package name (PEP 508), or None when it is one."""
    if not isinstance(text, str) or not text:
        return "a package name is required"
    if len(text) > MAX_NAME:
        return f"a package name has at most {MAX_NAME} characters"
    if not _NAME.fullmatch(text):
        return f"{text[:40]!r} is not a package name"
    return None
