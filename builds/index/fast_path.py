"""Serving published simple pages straight from the ASGI layer.

pip and uv fetch one page per project on every resolve, so the index is the refinery's
hottest path. A GET or HEAD for a canonical page URL without a query string whose page is
already rendered is answered here, without Django's request/response machinery (about 20x
the throughput, bench/index.py). Everything else — redirects of non-normalized names,
``?format=``, 404, 406, first renders, a ``Host`` outside ``ALLOWED_HOSTS`` (Django's 400),
plain HTTP where HTTPS is required (Django's redirect) — falls through to the Django views,
which share the negotiation and response code, so both paths answer alike, with the same
security headers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.conf import settings

from builds.index.catalog import default_target
from builds.index.negotiation import NotAcceptable, from_accept
from builds.index.page_store import ROOT_PAGE, page_store
from builds.index.responses import page_response
from refinery.lib.http_security import host_allowed, is_secure, security_headers
from refinery.lib.metrics import INDEX_CACHE_HITS, count_index_request

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_PAGE = re.compile(
    r"(?:/t/(?P<target>cp3\d{1,2}-[a-z0-9_]+))?/simple/(?:(?P<project>[a-z0-9]+(?:-[a-z0-9]+)*)/)?"
)


class IndexFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.default_slug = default_target().slug

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
        headers: dict[bytes, bytes] = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        if not host and scope.get("server"):  # HTTP/1.0: Django falls back to the server's
            host = f"{scope['server'][0]}:{scope['server'][1]}"
        if not host_allowed(host):
            return False
        secure = is_secure(scope.get("scheme", "http"), headers)
        if settings.SECURE_SSL_REDIRECT and not secure:
            return False
        try:
            page_format = from_accept(headers.get(b"accept", b"*/*").decode("latin-1"))
        except NotAcceptable:
            return False
        slug = match["target"] or self.default_slug
        page = page_store().get(slug, match["project"] or ROOT_PAGE, page_format.kind)
        if page is None:
            return False
        none_match = headers.get(b"if-none-match")
        modified_since = headers.get(b"if-modified-since")
        response = page_response(
            page,
            page_format,
            head=scope["method"] == "HEAD",
            if_none_match=none_match.decode("latin-1") if none_match is not None else None,
            if_modified_since=(
                modified_since.decode("latin-1") if modified_since is not None else None
            ),
        )
        INDEX_CACHE_HITS.inc()
        count_index_request("page", response.status)
        all_headers = [*response.headers, *security_headers(secure)]
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in dict(all_headers).items()],
            }
        )
        await send({"type": "http.response.body", "body": response.body})
        return True
