"""Serving published simple pages straight from the ASGI layer.

pip and uv fetch one page per project on every resolve, so the index is the refinery's
hottest path. A GET or HEAD for a canonical page URL without a query string whose page is
already rendered is answered here, without Django's request/response machinery. Everything
else — redirects of non-normalized names, ``?format=``, 404, 406, first renders, a ``Host``
outside ``ALLOWED_HOSTS`` (Django's 400), plain HTTP where HTTPS is required (Django's
redirect) — falls through to the Django views, which share the negotiation and response
code, so both paths answer alike, with the same security headers.

A plain request (no validators) is answered from a response built once per published file:
its status line, headers and body ready to send. Such a response is found by what decides
it in the request (path, method, scheme, ``Host``, ``Accept`` and the proxy's HTTPS header,
read in one pass over the headers), and is judged (host, negotiation, HTTPS) only the first
time. It is checked against its file (one ``stat``) only when the store's publish stamp has
moved since the last check, or a second has passed (a page file changed by hand): a repeated
request costs a dict lookup and a read of shared memory. The settings it depends on are read
once and again whenever they change. Under ``manage.py serve`` such a repeat does not even
reach ASGI: uvicorn's protocol writes the kept bytes itself (``http_protocol.py``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import time
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
_READY_RESPONSES = 8192  # distinct plain requests (page, format, scheme, method) kept ready
_RECHECK_SECONDS = 1.0  # a kept answer is checked against its file at least this often
_StatKey = tuple[int, int, int]


@dataclass(frozen=True)
class _Snapshot:
    """What the fast path reads from settings, read once (and again when they change)."""

    store: PageStore
    default_slug: str
    ssl_redirect: bool
    # (secure) -> the security headers every response carries, encoded
    security: dict[bool, list[tuple[bytes, bytes]]]
    # the request headers that decide a page's answer, and the proxy's HTTPS header among them
    wanted: frozenset[bytes]
    proxy_header: bytes | None


@functools.cache
def _snapshot() -> _Snapshot:
    proxy = settings.SECURE_PROXY_SSL_HEADER
    proxy_header = (
        proxy[0].removeprefix("HTTP_").lower().replace("_", "-").encode() if proxy else None
    )
    return _Snapshot(
        store=page_store(),
        default_slug=default_target().slug,
        ssl_redirect=bool(settings.SECURE_SSL_REDIRECT),
        security={
            secure: [(k.lower().encode(), v.encode()) for k, v in security_headers(secure)]
            for secure in (False, True)
        },
        wanted=frozenset(
            {b"host", b"accept", b"if-none-match", b"if-modified-since"}
            | ({proxy_header} if proxy_header else set())
        ),
        proxy_header=proxy_header,
    )


@functools.lru_cache(maxsize=256)
def _host_ok(host: str) -> bool:
    return host_allowed(host)


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    _snapshot.cache_clear()
    _host_ok.cache_clear()
    _READY.clear()


class _Ready:
    """A kept answer: the page file, its identity when the answer was built, the answer's
    two messages, and the publish stamp and time of the last check against the file."""

    __slots__ = ("body", "checked_until", "head", "identity", "path", "stamp", "start")

    def __init__(
        self, path: str, identity: _StatKey, start: Message, body: Message, stamp: bytes
    ) -> None:
        self.path, self.identity, self.start, self.body = path, identity, start, body
        self.stamp, self.checked_until = stamp, time.monotonic() + _RECHECK_SECONDS
        # The header lines as the HTTP server writes them after its status line and own
        # headers (the body is not copied: the lane writes ``body["body"]`` after them).
        self.head = b"".join(
            [*(name + b": " + value + b"\r\n" for name, value in start["headers"]), b"\r\n"]
        )

    def current(self, store: PageStore, now: float) -> bool:
        """Whether the answer still matches the published file."""
        stamp = store.stamp.read(now)
        if stamp and stamp == self.stamp and now < self.checked_until:
            return True
        # The stamp is read before the file: a publish in between moves it again.
        if _identity(self.path) != self.identity:
            return False
        self.stamp, self.checked_until = stamp, now + _RECHECK_SECONDS
        return True


# (path, method, scheme, Host, Accept, proxy HTTPS header) of a plain request -> its answer
_RequestKey = tuple[str, str, str, bytes | None, bytes | None, bytes | None]
_READY: OrderedDict[_RequestKey, _Ready] = OrderedDict()
_PAGE_200 = INDEX_REQUESTS.labels("page", "200")
_COUNT_EVERY = 0.5  # seconds


class _PendingHits:
    """Pages answered from a kept response, added to the Prometheus counters at most every
    half second rather than per request: with several processes each increment is a locked
    write to a shared file, and the two took 1.9 us of a hit's 7 (measured). A flush is
    due by time on the next hit, and also scheduled on the loop for when no hit follows."""

    def __init__(self) -> None:
        self.count = 0
        self.due = 0.0
        self.scheduled: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def add(self, now: float) -> None:
        self.count += 1
        if now >= self.due:
            self.flush()
            self.due = now + _COUNT_EVERY
            return
        loop = asyncio.get_running_loop()
        # A flush scheduled on a loop that has since closed (asyncio.run per request, as
        # tests do) never runs: schedule again on this one.
        if self.scheduled is None or self.loop is not loop:
            self.scheduled, self.loop = loop.call_later(_COUNT_EVERY, self.flush), loop

    def flush(self) -> None:
        if self.scheduled is not None:
            self.scheduled.cancel()
            self.scheduled = self.loop = None
        count, self.count = self.count, 0
        if count:
            INDEX_CACHE_HITS.inc(count)
            _PAGE_200.inc(count)


_HITS = _PendingHits()


class IndexFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope.get("query_string")
            and await self._answered(scope, send)
        ):
            return
        await self.app(scope, receive, send)

    async def _answered(self, scope: Scope, send: Send) -> bool:
        snapshot = _snapshot()
        wanted = snapshot.wanted
        headers = {name: value for name, value in scope["headers"] if name in wanted}
        # Validators are answered per request; without a Host (HTTP/1.0) the answer depends
        # on the address the request came in on, so neither is kept.
        if b"if-none-match" in headers or b"if-modified-since" in headers or b"host" not in headers:
            return await self._serve(scope, send, snapshot, headers, None)
        key: _RequestKey = (
            scope["path"],
            scope["method"],
            scope.get("scheme", "http"),
            headers[b"host"],
            headers.get(b"accept"),
            headers.get(snapshot.proxy_header) if snapshot.proxy_header else None,
        )
        held = _current(key, snapshot)
        if held is not None:
            await send(held.start)
            await send(held.body)
            return True
        return await self._serve(scope, send, snapshot, headers, key)

    async def _serve(
        self,
        scope: Scope,
        send: Send,
        snapshot: _Snapshot,
        headers: dict[bytes, bytes],
        key: _RequestKey | None,
    ) -> bool:
        """Judge the request in full (host, HTTPS, negotiation) and answer it if it is for a
        published page; a plain request's answer is kept under ``key`` for its repeats."""
        match = _PAGE.fullmatch(scope["path"])
        if match is None:
            return False
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
        messages = _page_messages(
            snapshot,
            (slug, project, page_format.kind),
            page_format,
            secure,
            head,
            none_match.decode("latin-1") if none_match is not None else None,
            modified_since.decode("latin-1") if modified_since is not None else None,
            key,
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


def _current(key: _RequestKey, snapshot: _Snapshot) -> _Ready | None:
    """The kept answer to a plain request, if it still matches its page; counted as a hit."""
    held = _READY.get(key)
    if held is None:
        return None
    now = time.monotonic()
    if not held.current(snapshot.store, now):
        return None
    _HITS.add(now)
    return held


def kept_answer(
    path: str, method: str, scheme: str, headers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes, bytes] | None:
    """For the HTTP server's own fast lane (``builds/index/http_protocol.py``): the status,
    the header lines (after the server's status line and own headers) and the body of the
    answer kept for a plain request whose page is unchanged, or None for anything to go
    through the app.

    ``headers`` are the request's, names in lower case. A request the app would judge on
    more than the key (validators, a proxy's forwarded scheme or host, an upgrade) or
    without a ``Host`` goes through the app."""
    snapshot = _snapshot()
    host = accept = proxy = None
    proxy_header = snapshot.proxy_header
    for name, value in headers:
        if name == b"host":
            host = value
        elif name == b"accept":
            accept = value
        elif name in _NOT_PLAIN or name.startswith(b"x-forwarded-"):
            # uvicorn's proxy-headers layer may rewrite the scheme from these.
            return None
        elif name == proxy_header:
            proxy = value
    if host is None:
        return None
    held = _current((path, method, scheme, host, accept, proxy), snapshot)
    if held is None:
        return None
    return held.start["status"], held.head, held.body["body"]


# Request headers that make a request more than its key: conditional GETs (answered per
# request), a proxy's RFC 7239 header, a protocol upgrade.
_NOT_PLAIN = frozenset({b"if-none-match", b"if-modified-since", b"forwarded", b"upgrade"})


def _identity(path: str) -> _StatKey | None:
    """The file as it is now: a publish replaces it (a new inode), so this tells at once."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _page_messages(
    snapshot: _Snapshot,
    page_id: tuple[str, str, str],
    page_format: PageFormat,
    secure: bool,
    head: bool,
    if_none_match: str | None,
    if_modified_since: str | None,
    key: _RequestKey | None,
) -> tuple[Message, Message] | None:
    """The answer for this page (slug, project, kind) as it is on disk now; a plain request's
    is kept under its ``key`` with the publish stamp and the file's identity, both read
    before the page (a publish in between only costs a rebuild)."""
    store = snapshot.store
    stamp = store.stamp.read(time.monotonic())
    path = store.file(*page_id)
    identity = _identity(path)
    if identity is None:
        return None
    page = store.get(*page_id)
    if page is None:
        return None
    messages = _messages(
        snapshot, page, page_format, secure, head, if_none_match, if_modified_since
    )
    if key is not None:
        _READY[key] = _Ready(path, identity, *messages, stamp)
        _READY.move_to_end(key)
        while len(_READY) > _READY_RESPONSES:
            _READY.popitem(last=False)
    return messages


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
