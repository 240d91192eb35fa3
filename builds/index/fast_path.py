"""Serving published simple pages straight from the ASGI layer.

pip and uv fetch one page per project on every resolve, so the index is the refinery's
hottest path. A GET or HEAD for a canonical page URL without a query string whose page is
already rendered is answered here, without Django's request/response machinery. Everything
else — redirects of non-normalized names, ``?format=``, 404, 406, first renders, a ``Host``
outside ``ALLOWED_HOSTS`` (Django's 400), plain HTTP where HTTPS is required (Django's
redirect) — falls through to the Django views, which share the negotiation and response
code, so both paths answer alike, with the same security headers.

A plain request (no validators) is answered from a response built once per published file:
its status line, headers and body ready to send, checked against the file with one
``stat``. The settings it depends on are read once and again whenever they change.
"""

from __future__ import annotations

import functools
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from builds.index.catalog import default_target
from builds.index.negotiation import NotAcceptable, PageFormat, from_accept
from builds.index.page_store import ROOT_PAGE, PageStore, page_store
from builds.index.responses import CachedPage, page_response
from refinery.lib.http_security import host_allowed, is_secure, security_headers
from refinery.lib.metrics import INDEX_CACHE_HITS, INDEX_REQUESTS

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Message = dict[str, Any]

_PAGE = re.compile(
    r"(?:/t/(?P<target>cp3\d{1,2}-[a-z0-9_]+))?/simple/(?:(?P<project>[a-z0-9]+(?:-[a-z0-9]+)*)/)?"
)
_READY_RESPONSES = 8192  # (page file, format, scheme, method) combinations kept ready
_StatKey = tuple[int, int, int]


@dataclass(frozen=True)
class _Snapshot:
    """What the fast path reads from settings, read once (and again when they change)."""

    store: PageStore
    default_slug: str
    ssl_redirect: bool
    # (secure) -> the security headers every response carries, encoded
    security: dict[bool, list[tuple[bytes, bytes]]]


@functools.cache
def _snapshot() -> _Snapshot:
    return _Snapshot(
        store=page_store(),
        default_slug=default_target().slug,
        ssl_redirect=bool(settings.SECURE_SSL_REDIRECT),
        security={
            secure: [(k.lower().encode(), v.encode()) for k, v in security_headers(secure)]
            for secure in (False, True)
        },
    )


@functools.lru_cache(maxsize=256)
def _host_ok(host: str) -> bool:
    return host_allowed(host)


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    _snapshot.cache_clear()
    _host_ok.cache_clear()
    _READY.clear()


# (file, content type, secure, head) -> (the file's identity, start message, body message)
_READY: OrderedDict[tuple[str, str, bool, bool], tuple[_StatKey, Message, Message]] = OrderedDict()
_PAGE_200 = INDEX_REQUESTS.labels("page", "200")


class IndexFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope.get("query_string")
            and await self._serve(scope, send)
        ):
            return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, send: Send) -> bool:
        match = _PAGE.fullmatch(scope["path"])
        if match is None:
            return False
        snapshot = _snapshot()
        headers: dict[bytes, bytes] = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        if not host and scope.get("server"):  # HTTP/1.0: Django falls back to the server's
            host = f"{scope['server'][0]}:{scope['server'][1]}"
        if not _host_ok(host):
            return False
        secure = is_secure(scope.get("scheme", "http"), headers)
        if snapshot.ssl_redirect and not secure:
            return False
        try:
            page_format = from_accept(headers.get(b"accept", b"*/*").decode("latin-1"))
        except NotAcceptable:
            return False
        slug = match["target"] or snapshot.default_slug
        project = match["project"] or ROOT_PAGE
        head = scope["method"] == "HEAD"
        none_match = headers.get(b"if-none-match")
        modified_since = headers.get(b"if-modified-since")
        if none_match is None and modified_since is None:
            messages = _ready(snapshot, slug, project, page_format, secure, head)
        else:
            messages = _conditional(
                snapshot,
                slug,
                project,
                page_format,
                secure,
                head,
                none_match.decode("latin-1") if none_match is not None else None,
                modified_since.decode("latin-1") if modified_since is not None else None,
            )
        if messages is None:
            return False
        INDEX_CACHE_HITS.inc()
        start, body = messages
        if start["status"] == 200:
            _PAGE_200.inc()
        else:
            INDEX_REQUESTS.labels("page", str(start["status"])).inc()
        await send(start)
        await send(body)
        return True


def _ready(
    snapshot: _Snapshot, slug: str, project: str, page_format: PageFormat, secure: bool, head: bool
) -> tuple[Message, Message] | None:
    """The prebuilt 200 for this page as it is on disk now (built on first use)."""
    path = snapshot.store.file(slug, project, page_format.kind)
    try:
        stat = os.stat(path)
    except OSError:
        return None
    identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    key = (path, page_format.content_type, secure, head)
    held = _READY.get(key)
    if held is not None and held[0] == identity:
        return held[1], held[2]
    page = snapshot.store.get(slug, project, page_format.kind)
    if page is None:
        return None
    messages = _messages(snapshot, page, page_format, secure, head, None, None)
    _READY[key] = (identity, *messages)
    _READY.move_to_end(key)
    while len(_READY) > _READY_RESPONSES:
        _READY.popitem(last=False)
    return messages


def _conditional(
    snapshot: _Snapshot,
    slug: str,
    project: str,
    page_format: PageFormat,
    secure: bool,
    head: bool,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> tuple[Message, Message] | None:
    page = snapshot.store.get(slug, project, page_format.kind)
    if page is None:
        return None
    return _messages(snapshot, page, page_format, secure, head, if_none_match, if_modified_since)


def _messages(
    snapshot: _Snapshot,
    page: CachedPage,
    page_format: PageFormat,
    secure: bool,
    head: bool,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> tuple[Message, Message]:
    response = page_response(
        page,
        page_format,
        head=head,
        if_none_match=if_none_match,
        if_modified_since=if_modified_since,
    )
    encoded = {k.lower().encode(): v.encode() for k, v in response.headers}
    encoded.update(snapshot.security[secure])
    start = {
        "type": "http.response.start",
        "status": response.status,
        "headers": list(encoded.items()),
    }
    return start, {"type": "http.response.body", "body": response.body}
