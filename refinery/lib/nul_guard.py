"""Refuse NUL characters in URLs before any view sees them.

A NUL can reach no database column (PostgreSQL refuses it in text) and no file name, so
a query parameter carrying one would otherwise surface as a 500 from whichever view
passed it on. Form and serializer fields refuse NULs in bodies already.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return JsonResponse(
                {"error": "the URL contains a NUL character, which no parameter may hold"},
                status=400,
            )
        return self.get_response(request)
