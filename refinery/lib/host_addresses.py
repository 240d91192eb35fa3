"""Looking a host up once for many parallel connections.

A planner opens a dozen connections to the index at once. Each asks the system resolver for
the host, and a resolver (or a NAT's connection tracking) that drops some of many
simultaneous queries makes the unlucky ones wait out the resolver's 5 s timeout: measured
here on 3 of 5 rounds of 16 parallel lookups, and a cold plan went from 0.8 s to 5.3 s. One
lookup per host at a time, kept for a minute, and connections made to the addresses it
returned (TLS still checks the certificate against the host's name).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family, create_connection

_KEEP_SEC = 60.0
_lock = threading.Lock()
_host_locks: dict[tuple[str, int], threading.Lock] = {}
_known: dict[tuple[str, int], tuple[float, list[str]]] = {}


def addresses(host: str, port: int) -> list[str]:
    """The host's addresses (IP literals), one lookup per host at a time, kept a minute."""
    key = (host, port)
    with _lock:
        host_lock = _host_locks.setdefault(key, threading.Lock())
    with host_lock:
        known = _known.get(key)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        found = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
        ips = list(dict.fromkeys(str(entry[4][0]) for entry in found))
        _known[key] = (time.monotonic() + _KEEP_SEC, ips)
        return ips


def _connect(connection: HTTPConnection) -> socket.socket:
    """urllib3's ``_new_conn``, to each known address of the host in turn."""
    host = connection._dns_host.strip("[]")
    try:
        ips = addresses(host, connection.port or 0)
    except socket.gaierror as exc:
        raise NameResolutionError(connection.host, connection, exc) from exc
    error: Exception | None = None
    for ip in ips:
        try:
            return create_connection(
                (ip, connection.port or 0),
                connection.timeout,
                source_address=connection.source_address,
                socket_options=connection.socket_options,
            )
        except TimeoutError as exc:
            error = ConnectTimeoutError(
                connection,
                f"Connection to {connection.host} timed out. "
                f"(connect timeout={connection.timeout})",
            )
            error.__cause__ = exc
        except OSError as exc:
            error = NewConnectionError(connection, f"Failed to establish a new connection: {exc}")
            error.__cause__ = exc
    raise error or NewConnectionError(connection, f"{host} has no address")


class _LookedUpHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _connect(self)


class _LookedUpHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _connect(self)


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _LookedUpHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _LookedUpHTTPSConnection


def pool_manager(**options: Any) -> urllib3.PoolManager:
    """A ``urllib3.PoolManager`` whose connections look their host up through ``addresses``."""
    manager = urllib3.PoolManager(**options)
    manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager
