"""Where a webhook may go: http or https to a public address, unless
``WEBHOOK_ALLOW_PRIVATE`` allows private, loopback and link-local ones. The address is
checked when a subscription is made and again, resolved, at every delivery; the request
then goes to the address that was checked (no second lookup a DNS rebinding could change).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationError(ValueError):
    """A URL a webhook cannot be sent to, with the reason."""


class DestinationRefused(DestinationError):
    """A URL whose address the policy refuses (retrying will not change it)."""


@dataclass(frozen=True)
class Destination:
    url: str
    host: str
    port: int
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return parts._replace(netloc=f"{host}:{self.port}").geturl()

    @property
    def host_header(self) -> str:
        parts = urlsplit(self.url)
        return parts.netloc.rsplit("@", 1)[-1]


def _parse(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused(f"{url!r}: only http and https URLs can receive webhooks")
    if not parts.hostname:
        raise DestinationRefused(f"{url!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused(f"{url!r}: credentials in the URL are not allowed; use the secret")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise DestinationRefused(f"{url!r}: {exc}") from None
    return parts


def allowed(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return not (address.is_multicast or address.is_unspecified)
    return address.is_global and not address.is_multicast


def resolve(url: str) -> Destination:
    """The checked address to send ``url``'s requests to; DestinationError when it has none."""
    parts = _parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationError(f"{host!r} does not resolve: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    refused = [a for a in addresses if not allowed(a)]
    if refused or not addresses:
        raise DestinationRefused(
            f"{host!r} resolves to {refused[0] if refused else 'nothing'}, a private, loopback "
            "or link-local address (WEBHOOK_ALLOW_PRIVATE=true allows them)"
        )
    return Destination(url=url, host=host, port=port, address=addresses[0])
