"""Credentials for websockets beyond the browser's session: the API's headers.

Other clients of the live-log socket (scripts, the bench) send what they send to the API:
``Authorization: Token <key>`` or ``X-Worker-Token``. Never a token in the URL. A wrong
credential leaves the socket anonymous, which the consumers refuse."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from channels.db import database_sync_to_async
from rest_framework.authtoken.models import Token

from refinery.lib.api_auth import worker_identity

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def _token_user(key: str) -> Any:
    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token is not None and token.user.is_active else None


class HeaderTokenAuthMiddleware:
    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        headers = {key.lower(): value.decode("latin-1") for key, value in scope["headers"]}
        authorization = headers.get(b"authorization", "")
        if authorization.startswith("Token "):
            user = await database_sync_to_async(_token_user)(authorization[6:].strip())
            if user is not None:
                scope["user"] = user
        worker = headers.get(b"x-worker-token")
        if worker:
            scope["worker"] = await database_sync_to_async(worker_identity)(worker)
        await self.inner(scope, receive, send)
