"""Who may call the API.

Three kinds of caller:

- **operators**: staff users, by session (the admin's login, CSRF-checked on writes) or by
  an API token (``Authorization: Token <key>``, made with ``manage.py drf_create_token``);
- **automation**: any other user with an API token: it may read and upload, nothing more;
- **workers**: whoever sends the shared ``WORKER_TOKEN`` as ``X-Worker-Token`` (or a
  ``token`` query parameter, as the seeds allow): the queue endpoints workers use.

Reads are open to anyone while ``API_READS_OPEN`` is on (the default, as in the seeds),
else they need any of the credentials above. Every write needs one.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is still loading
    from rest_framework.views import APIView

WORKER = "worker"
_CREDENTIALS = (
    "send the worker token as X-Worker-Token, an API token as 'Authorization: Token <key>', "
    "or sign in as staff"
)


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


def is_worker(request: Request) -> bool:
    return request.auth == WORKER


def is_staff(request: Request) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and user.is_staff)


def is_signed_in(request: Request) -> bool:
    return bool(request.user and request.user.is_authenticated)


def actor_of(request: Request) -> str:
    """How an API caller is named in events: ``api:<user>``, or ``api:worker``."""
    if is_worker(request):
        return "api:worker"
    return f"api:{request.user.get_username()}" if request.user else "api"


def _refuse_anonymous(request: Request) -> None:
    """No credentials at all is a 401 naming the ways in; wrong credentials are a 403."""
    if not (is_signed_in(request) or is_worker(request)):
        raise NotAuthenticated(_CREDENTIALS)


class IsReader(BasePermission):
    """Reads: open while API_READS_OPEN is on, else any credential."""

    message = "reading the API needs a credential here (API_READS_OPEN is off)"

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS and settings.API_READS_OPEN:
            return True
        _refuse_anonymous(request)
        return True  # a write to a read-only endpoint is then DRF's 405


class IsOperator(BasePermission):
    """Operator actions (queue changes, hints, settings): staff users only. Reads of the
    same endpoints follow the reader rule."""

    message = "this action is for staff users"

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return IsReader().has_permission(request, view)
        _refuse_anonymous(request)
        return is_staff(request)


class IsWorkerOrOperator(BasePermission):
    message = "this endpoint is for workers (X-Worker-Token) and staff"

    def has_permission(self, request: Request, view: APIView) -> bool:
        _refuse_anonymous(request)
        return is_worker(request) or is_staff(request)


class IsUploader(BasePermission):
    """Uploads: any signed-in user (automation tokens included), staff, or a worker."""

    message = "uploads need a signed-in user, an API token or the worker token"

    def has_permission(self, request: Request, view: APIView) -> bool:
        _refuse_anonymous(request)
        return True


class UploadThrottle(ScopedRateThrottle):
    """Uploads per caller (user, else address), at ``UPLOAD_THROTTLE_RATE``. Workers are
    not throttled: they upload what the refinery itself asked them to build."""

    def get_rate(self) -> str:
        # Read at each request (DRF binds its rate table once at import).
        return str(settings.UPLOAD_THROTTLE_RATE)

    def allow_request(self, request: Request, view: APIView) -> bool:
        if is_worker(request):
            return True
        return super().allow_request(request, view)
