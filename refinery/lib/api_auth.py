"""Who may call the API: staff (session) and workers (the shared ``WORKER_TOKEN``)."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is still loading
    from rest_framework.views import APIView

WORKER = "worker"


def worker_token_from(request: Request) -> str | None:
    """``X-Worker-Token`` header, or a ``token`` query parameter (the seeds accept both)."""
    header = request.headers.get("X-Worker-Token")
    return header if header is not None else request.query_params.get("token")


class WorkerTokenAuthentication(BaseAuthentication):
    """A request carrying the worker token is a worker; a wrong token is refused outright."""

    def authenticate(self, request: Request) -> tuple[Any, str] | None:
        given = worker_token_from(request)
        if given is None:
            return None
        expected = settings.WORKER_TOKEN
        if not expected:
            raise AuthenticationFailed(
                "worker tokens are not accepted here: WORKER_TOKEN is not set"
            )
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise AuthenticationFailed("invalid worker token")
        return AnonymousUser(), WORKER

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="worker", header="X-Worker-Token"'


def is_staff(request: Request) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and user.is_staff)


class IsWorkerOrStaff(BasePermission):
    message = "this endpoint is for workers (X-Worker-Token) and staff"

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.auth == WORKER or is_staff(request):
            return True
        if not (request.user and request.user.is_authenticated):
            raise NotAuthenticated("send the worker token as X-Worker-Token, or sign in as staff")
        return False
