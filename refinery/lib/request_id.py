"""``X-Request-ID``: taken from the client when it is a sane token, made up otherwise, bound
for the request's log lines and echoed on the response."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from refinery.lib import log_context

HEADER = "X-Request-ID"
# A proxy's id is kept only when it cannot smuggle anything into a log line or a header.
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_for(request: HttpRequest) -> str:
    given = request.headers.get(HEADER, "")
    return given if _SANE.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        # Not reset on the way out: Django logs a 4xx/5xx after the middleware returns, and
        # that line belongs to this request too. The next request sets its own.
        log_context.request_id.set(request_id_for(request))
        response: HttpResponseBase = self.get_response(request)
        response[HEADER] = log_context.request_id.get()
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        log_context.request_id.set(request_id_for(request))
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        response = await get_response(request)
        response[HEADER] = log_context.request_id.get()
        return response
