"""One response for a rendered page, shared by the fast path and the Django view: the body
in the chosen format with its validators, or 304 when the client's copy is current."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.http import http_date, parse_etags, parse_http_date_safe

from builds.index.negotiation import PageFormat


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    etag: str  # quoted, strong
    modified: int  # seconds since the epoch

    @classmethod
    def of(cls, body: bytes, modified: float) -> CachedPage:
        # nginx's validator for a static file (modification second and size, in hex), so the
        # production front serving the page store (``manage.py front_config``) and the app
        # give one page one ETag. The page store never publishes a changed page with the same
        # second and size as the one it replaces.
        return cls(body, f'"{int(modified):x}-{len(body):x}"', int(modified))


@dataclass(frozen=True)
class PageResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def page_response(
    page: CachedPage,
    page_format: PageFormat,
    *,
    head: bool,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> PageResponse:
    headers = [
        ("Content-Type", page_format.content_type),
        ("ETag", page.etag),
        ("Last-Modified", http_date(page.modified)),
        # One URL, several representations: caches must key on Accept.
        ("Vary", "Accept"),
        # Clients may keep the page but must revalidate: a publish shows up at once.
        ("Cache-Control", "max-age=0, must-revalidate"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if _not_modified(page, if_none_match, if_modified_since):
        # RFC 9110 15.4.5: the validators and caching headers, no content headers (as Django's
        # ConditionalGetMiddleware and nginx answer).
        return PageResponse(304, headers[1:], b"")
    headers.append(("Content-Length", str(len(page.body))))
    return PageResponse(200, headers, b"" if head else page.body)


def _not_modified(
    page: CachedPage, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    # RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since only without it.
    if if_none_match is not None:
        tags = parse_etags(if_none_match)
        return "*" in tags or any(tag.removeprefix("W/") == page.etag for tag in tags)
    if if_modified_since is not None:
        since = parse_http_date_safe(if_modified_since)
        return since is not None and page.modified <= since
    return False
