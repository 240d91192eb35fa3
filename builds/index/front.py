"""The production front: an nginx configuration that serves published simple pages straight
from the page store and hands everything else to the app.

It is generated from this refinery's settings, so the front answers a page exactly as the
app would: the same negotiation (each known client's ``Accept`` is decided by the app's own
code here; any other goes to the app), the same validators (``CachedPage`` uses nginx's ETag
formula), the same headers, the same host check and HTTPS rules. What the front cannot
decide the same way (a query string, both validators at once, a redirect, a first render, a
404) goes to the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string

from builds.index.catalog import default_target
from builds.index.negotiation import HTML, V1_JSON, NotAcceptable, from_accept
from builds.index.page_store import ROOT_PAGE
from refinery.lib.http_security import security_headers

# Accept headers seen from real clients (pip 22.2+, uv, browsers, curl and clients that
# send none); the front serves these itself.
KNOWN_ACCEPTS = (
    "",
    "*/*",
    "text/html",
    "application/vnd.pypi.simple.v1+json",
    "application/vnd.pypi.simple.latest+json",
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01",
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
)
# The formats a file on disk answers with nginx's fixed types; the rest go to the app.
_STATIC_KINDS = {HTML: "html", V1_JSON: "json"}
_ADDRESS = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}|unix:/[^\s;{}\"']+")
_UPLOAD_SLACK = 1024 * 1024  # multipart framing around an uploaded wheel


class FrontConfigError(ValueError):
    """A setting or argument the front cannot be generated from, in one line."""


@dataclass(frozen=True)
class FrontOptions:
    upstream: str  # host:port (or unix:/path) of the app
    listen: str  # what nginx listens on: a port, or address:port


def check_address(value: str, what: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise FrontConfigError(f"{what} {value!r} is not host:port (or unix:/path)")
    return value


def check_listen(value: str) -> str:
    if value.isdigit() and 0 < int(value) < 65536:
        return value
    return check_address(value, "listen")


def static_accepts() -> list[tuple[str, str]]:
    """(Accept, file kind) for each known Accept whose format is served as a file."""
    decided = []
    for accept in KNOWN_ACCEPTS:
        try:
            kind = _STATIC_KINDS.get(from_accept(accept))
        except NotAcceptable:
            continue
        if kind is not None:
            decided.append((accept, kind))
    return decided


def host_patterns() -> tuple[int, list[tuple[str, int]]]:
    """ALLOWED_HOSTS as nginx map entries on ``$host``: (default, [(pattern, 1)])."""
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    if "*" in allowed:
        return 1, []
    patterns = []
    for host in allowed:
        host = host.lower()
        if any(c in host for c in "\"'\\;{} "):
            raise FrontConfigError(f"ALLOWED_HOSTS entry {host!r} cannot go into nginx's map")
        if host.startswith("."):
            patterns.append((f"~^(.+\\.)?{re.escape(host[1:])}$", 1))
        else:
            patterns.append((host, 1))
    return 0, patterns


def front_config(options: FrontOptions) -> str:
    check_address(options.upstream, "upstream")
    check_listen(options.listen)
    default_host, hosts = host_patterns()
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    hsts = ""
    if settings.SECURE_HSTS_SECONDS:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
    # The app's security headers (HSTS apart: it depends on the request, see the map).
    headers = {**dict(security_headers(secure=False)), "X-Content-Type-Options": "nosniff"}
    context = {
        "upstream": options.upstream,
        "listen": options.listen,
        "accepts": static_accepts(),
        "any_host": default_host,
        "hosts": hosts,
        "proxy_header_variable": (
            "$http_" + proxy_header[0].removeprefix("HTTP_").lower() if proxy_header else ""
        ),
        "proxy_header_name": proxy_header[0] if proxy_header else "",
        "proxy_header_value": re.escape(proxy_header[1]) if proxy_header else "",
        "ssl_redirect": 1 if settings.SECURE_SSL_REDIRECT else 0,
        "hsts": hsts,
        "security_headers": list(headers.items()),
        "default_slug": default_target().slug,
        "root_page": ROOT_PAGE,
        "pages_dir": str(settings.INDEX_PAGES_DIR),
        "body_max": settings.WHEEL_UPLOAD_MAX_BYTES + _UPLOAD_SLACK,
    }
    return render_to_string("deploy/nginx-front.conf", context)
