"""The host check and security headers Django's middleware gives every response, for the
ASGI fast path that answers before Django (``builds/index/fast_path.py``)."""

from __future__ import annotations

from django.conf import settings
from django.http.request import split_domain_port, validate_host


def host_allowed(host_header: str) -> bool:
    """Whether Django would accept this ``Host`` (``ALLOWED_HOSTS``); it answers 400 if not."""
    domain, _ = split_domain_port(host_header)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


def is_secure(scheme: str, headers: dict[bytes, bytes]) -> bool:
    """HTTPS as Django judges it: the connection's scheme, or the trusted proxy's header."""
    if scheme == "https":
        return True
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if proxy_header is None:
        return False
    name, value = proxy_header
    given = headers.get(name.removeprefix("HTTP_").lower().replace("_", "-").encode())
    return given is not None and given.decode("latin-1").split(",")[0].strip() == value


def security_headers(secure: bool) -> list[tuple[str, str]]:
    """What SecurityMiddleware and XFrameOptionsMiddleware add, as configured here."""
    headers = [("X-Frame-Options", settings.X_FRAME_OPTIONS)]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append(("Referrer-Policy", str(settings.SECURE_REFERRER_POLICY)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    if secure and settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        headers.append(("Strict-Transport-Security", value))
    return headers
