"""While the database is away (restarting, failing over), requests get 503 with
``Retry-After`` — something a client and a proxy know to retry — rather than a 500."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import server_error

RETRY_AFTER_SECONDS = 5
MESSAGE = "the database is unavailable for the moment; retry shortly"


def unavailable(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": MESSAGE}, status=503)
    else:
        response = HttpResponse(f"{MESSAGE}\n", status=503, content_type="text/plain")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error_or_unavailable(request: HttpRequest) -> HttpResponse:
    """Django's handler500, called while the exception is being handled."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return unavailable(request)
    return server_error(request)
