"""Request bodies are refused by size before anything is buffered.

Django's ASGI handler reads a whole body into a spooled temporary file before any view or
middleware runs, so an anonymous 300 MB POST to any path used to be written to disk in full
before its 401. This ASGI middleware sits in front of Django and answers first:

- a write to ``/api/`` with no credential at all (no ``Authorization``, ``X-Worker-Token``
  or session cookie) is a 401 at once: every API write needs one;
- a body longer than its path's limit is a 413, by ``Content-Length`` before a byte is read,
  and while streaming for chunked bodies (the request is then cut off).

Limits are per path: requirements uploads are small, wheel uploads large, everything else
``REQUEST_MAX_BYTES``; callers without a credential get ``ANONYMOUS_REQUEST_MAX_BYTES``
(enough for the admin's login form). Whether a credential is *valid* is Django's business
later; by then the body is bounded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.conf import settings

from refinery.lib.api_auth import CREDENTIALS_HINT

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Multipart framing and the form's other fields around the file itself.
_FORM_OVERHEAD = 64 * 1024
# A log chunk holds up to 1,000,000 characters; JSON escapes may grow each to six bytes.
_LOG_CHUNK_BYTES = 6 * 1_000_000 + _FORM_OVERHEAD


def _requirements_limit() -> int:
    return int(settings.REQUIREMENTS_MAX_BYTES) + _FORM_OVERHEAD


def _wheel_limit() -> int:
    return int(settings.WHEEL_UPLOAD_MAX_BYTES) + _FORM_OVERHEAD


_PATH_LIMITS: list[tuple[re.Pattern[str], Callable[[], int]]] = [
    (re.compile(r"/api/requirements/upload/?"), _requirements_limit),
    (re.compile(r"/admin/inputs/pendinginput/upload/"), _requirements_limit),
    (re.compile(r"/api/wheels/upload/?"), _wheel_limit),
    (re.compile(r"/api/builds/\d+/wheel/?"), _wheel_limit),
    (re.compile(r"/admin/builds/artifact/upload/"), _wheel_limit),
    (re.compile(r"/api/logs/stream/?"), lambda: _LOG_CHUNK_BYTES),
]


def body_limit(path: str, *, credentialed: bool) -> int:
    """The most bytes a request body to ``path`` may have."""
    if not credentialed:
        return int(settings.ANONYMOUS_REQUEST_MAX_BYTES)
    for pattern, limit in _PATH_LIMITS:
        if pattern.fullmatch(path):
            return limit()
    return int(settings.REQUEST_MAX_BYTES)


def _has_credential(headers: dict[bytes, bytes]) -> bool:
    if b"authorization" in headers or b"x-worker-token" in headers:
        return True
    cookie = headers.get(b"cookie", b"").decode("latin-1")
    name = settings.SESSION_COOKIE_NAME
    return any(part.strip().startswith(f"{name}=") for part in cookie.split(";"))


async def _respond(
    send: Send, status: int, error: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # The body we did not read is still on the wire: this connection cannot be reused.
        (b"connection", b"close"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestBodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for key, value in scope["headers"]:
            headers[key.lower()] = value
        path: str = scope["path"]
        credentialed = _has_credential(headers)
        if not credentialed and path.startswith("/api/"):
            await _respond(
                send, 401, CREDENTIALS_HINT, [(b"www-authenticate", b'Token realm="api"')]
            )
            return
        limit = body_limit(path, credentialed=credentialed)
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _respond(send, 400, "Content-Length is not a number of bytes")
                return
            if int(declared) > limit:
                await _respond(send, 413, _too_large(path, limit))
                return
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, path, limit)

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, path: str, limit: int
    ) -> None:
        """A body of unknown length (chunked): count it as it arrives and cut it off."""
        received = 0
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def receiving() -> Message:
            nonlocal received, started
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        started = True
                        await _respond(send, 413, _too_large(path, limit))
                    # Django's body reader gives up on a disconnect without answering.
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, receiving, sending)


def _too_large(path: str, limit: int) -> str:
    return f"the request body is over the limit of {limit} bytes for {path}"
