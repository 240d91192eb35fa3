"""Who may call the API.

Three kinds of caller:

- **operators**: staff users, by session (the admin's login, CSRF-checked on writes) or by
  an API token (``Authorization: Token <key>``, made with ``manage.py drf_create_token``);
- **automation**: any other user with an API token: it may read and upload, nothing more;
- **workers**: whoever sends a worker token as the ``X-Worker-Token`` header (never in a
  URL, where proxies and logs keep it): a token of its own made with
  ``manage.py worker_token create NAME``, or the deployment's shared ``WORKER_TOKEN``.
  The token, not anything the worker says, is its identity: leases are held in the
  token's name (``<name>/<the worker's own id>``), so one worker cannot report on, or hand
  in a wheel for, a job another token holds.

Reads need a credential unless ``API_READS_OPEN`` is on (off by default: uploads, logs and
uploaders' names are not for everyone; the package index stays public). Every write needs
a credential.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

from refinery.models import WorkerToken

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is still loading
    from rest_framework.views import APIView

# The identity of whoever holds the deployment's shared WORKER_TOKEN.
SHARED_WORKER = "worker"
CREDENTIALS_HINT = (
    "send the worker token as X-Worker-Token, an API token as 'Authorization: Token <key>', "
    "or sign in as staff"
)
MAX_WORKER_ID = 120


@dataclass(frozen=True)
class WorkerIdentity:
    """A caller authenticated by a worker token: ``name`` is the token's."""

    name: str


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def worker_identity(given: str) -> WorkerIdentity | None:
    """The worker a token proves, or None for a wrong one."""
    shared = settings.WORKER_TOKEN
    if shared and hmac.compare_digest(given.encode(), shared.encode()):
        return WorkerIdentity(SHARED_WORKER)
    # Stored as sha256 digests: a database dump yields no usable token.
    own = WorkerToken.objects.filter(key_digest=token_digest(given), revoked=False).first()
    if own is None:
        return None
    own.mark_used()
    return WorkerIdentity(own.name)


class WorkerTokenAuthentication(BaseAuthentication):
    """A request carrying a worker token is that token's worker; a wrong one is refused
    outright. Header only: a ``?token=`` in a URL ends up in access logs and proxies."""

    def authenticate(self, request: Request) -> tuple[Any, WorkerIdentity] | None:
        given = request.headers.get("X-Worker-Token")
        if given is None:
            return None
        identity = worker_identity(given)
        if identity is None:
            raise AuthenticationFailed("invalid worker token")
        return AnonymousUser(), identity

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="worker", header="X-Worker-Token"'


def is_worker(request: Request) -> bool:
    return isinstance(request.auth, WorkerIdentity)


def lease_owner(request: Request, declared: str) -> str:
    """The name a job or input is leased under for this caller: the worker's own id,
    prefixed with the identity its credential proves (``s390x-1/host:pid``), so a worker
    can only ever act on leases held under its own token. ``ValueError`` when ``declared``
    is empty or too long."""
    declared = declared.strip()
    if not 1 <= len(declared) <= MAX_WORKER_ID:
        raise ValueError(f"worker: the worker's id (1 to {MAX_WORKER_ID} characters) is required")
    if isinstance(request.auth, WorkerIdentity):
        identity = request.auth.name
    else:
        identity = f"staff:{request.user.get_username()}"
    return f"{identity}/{declared}"


def is_staff(request: Request) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and user.is_staff)


def is_signed_in(request: Request) -> bool:
    return bool(request.user and request.user.is_authenticated)


def actor_of(request: Request) -> str:
    """How an API caller is named in events: ``api:<user>``, or ``api:worker:<token name>``."""
    if isinstance(request.auth, WorkerIdentity):
        return f"api:worker:{request.auth.name}"
    return f"api:{request.user.get_username()}" if request.user else "api"


def _refuse_anonymous(request: Request) -> None:
    """No credentials at all is a 401 naming the ways in; wrong credentials are a 403."""
    if not (is_signed_in(request) or is_worker(request)):
        raise NotAuthenticated(CREDENTIALS_HINT)


class IsReader(BasePermission):
    """Reads: open while API_READS_OPEN is on, else any credential."""

    message = "reading the API needs a credential (API_READS_OPEN is off)"

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


class IsStaff(BasePermission):
    """Staff users only, reads included (subscriptions hold URLs and signing secrets)."""

    message = "this endpoint is for staff users"

    def has_permission(self, request: Request, view: APIView) -> bool:
        _refuse_anonymous(request)
        return is_staff(request)


class BearerTokenAuthentication(TokenAuthentication):
    """The same API tokens, sent as ``Authorization: Bearer <key>`` (what most HTTP clients
    and CI systems send) as well as DRF's ``Token <key>``."""

    keyword = "Bearer"
