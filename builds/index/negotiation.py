"""Choosing a page's format (PEP 691): from ``?format=`` or the ``Accept`` header's q-values."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.http import HttpRequest


@dataclass(frozen=True)
class PageFormat:
    kind: str  # "html" or "json": which rendered body
    content_type: str


HTML = PageFormat("html", "text/html; charset=utf-8")
V1_HTML = PageFormat("html", "application/vnd.pypi.simple.v1+html")
V1_JSON = PageFormat("json", "application/vnd.pypi.simple.v1+json")

# Offered in this order: with no preference between them (``*/*``), legacy HTML comes first,
# as PEP 691 recommends for clients that send no Accept header.
OFFERED: dict[str, PageFormat] = {
    "text/html": HTML,
    "application/vnd.pypi.simple.v1+html": V1_HTML,
    "application/vnd.pypi.simple.latest+html": V1_HTML,
    "application/vnd.pypi.simple.v1+json": V1_JSON,
    "application/vnd.pypi.simple.latest+json": V1_JSON,
}
_SHORT = {"html": HTML, "json": V1_JSON}


class NotAcceptable(Exception):
    """No format we serve satisfies the request; the message lists what we serve."""


def _not_acceptable(what: str) -> NotAcceptable:
    return NotAcceptable(f"{what}; this index serves {', '.join(OFFERED)}")


@lru_cache(maxsize=512)
def from_accept(accept: str) -> PageFormat:
    """The preferred format for an Accept header (memoized: clients send a handful)."""
    request = HttpRequest()
    request.META["HTTP_ACCEPT"] = accept.strip() or "*/*"
    chosen = request.get_preferred_type(list(OFFERED))
    if chosen is None:
        raise _not_acceptable(f"Accept: {accept[:200]!r} matches no format")
    return OFFERED[chosen]


def choose(accept: str | None, format_param: str | None) -> PageFormat:
    """``?format=`` (a media type, or ``html``/``json``) wins over the Accept header."""
    if format_param is not None:
        # An unescaped "+" in a query string arrives as a space; media types have none.
        wanted = format_param.strip().replace(" ", "+")
        chosen = OFFERED.get(wanted) or _SHORT.get(wanted)
        if chosen is None:
            raise _not_acceptable(f"format={format_param[:100]!r} is not a format we serve")
        return chosen
    return from_accept(accept or "*/*")
