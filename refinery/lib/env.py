"""Typed readers for environment variables.

Each reader names the variable in its error, so a bad deployment fails at
start-up with one line saying what to fix instead of misbehaving later.
Secrets may also be given as ``NAME_FILE`` (a path whose content is the value),
the convention container orchestrators use for mounted secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import overload
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class Env:
    """Reads settings from a mapping (``os.environ`` unless a test passes another)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def _raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def is_set(self, name: str) -> bool:
        return self._raw(name) is not None

    def text(self, name: str, default: str) -> str:
        value = self._raw(name)
        return default if value is None else value

    def optional_text(self, name: str) -> str | None:
        return self._raw(name)

    def secret(self, name: str) -> str | None:
        """``NAME`` or the content of the file named by ``NAME_FILE``; never both."""
        direct = self._raw(name)
        file_name = self._raw(f"{name}_FILE")
        if direct is not None and file_name is not None:
            raise ImproperlyConfigured(f"{name} and {name}_FILE are both set; set only one")
        if file_name is None:
            return direct
        try:
            content = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE={file_name!r} cannot be read: {exc.strerror}"
            ) from exc
        if not content:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} is empty")
        return content

    def flag(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a boolean; use one of true/false, 1/0, yes/no, on/off"
        )

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}")
        if maximum is not None and number > maximum:
            raise ImproperlyConfigured(f"{name}={number} is above the maximum of {maximum}")
        return number

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        value = self._raw(name)
        if value is None:
            return default
        if value not in choices:
            raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(choices)}")
        return value

    def matching(self, name: str, default: str, pattern: re.Pattern[str], what: str) -> str:
        value = self._raw(name)
        if value is None:
            return default
        if not pattern.fullmatch(value):
            raise ImproperlyConfigured(f"{name}={value!r} is not {what}")
        return value

    @overload
    def url(self, name: str, default: str, *, schemes: Sequence[str]) -> str: ...

    @overload
    def url(self, name: str, default: None, *, schemes: Sequence[str]) -> str | None: ...

    def url(self, name: str, default: str | None, *, schemes: Sequence[str]) -> str | None:
        value = self._raw(name)
        if value is None:
            return default
        _check_url(name, value, schemes)
        return value

    def url_list(self, name: str, *, schemes: Sequence[str]) -> list[str]:
        """Whitespace- or comma-separated URLs, as pip's ``--extra-index-url`` takes them."""
        value = self._raw(name)
        if value is None:
            return []
        urls = [part for part in re.split(r"[\s,]+", value) if part]
        for url in urls:
            _check_url(name, url, schemes)
        return urls


def _check_url(name: str, value: str, schemes: Sequence[str]) -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a URL with scheme {' or '.join(schemes)} and a host"
        )
