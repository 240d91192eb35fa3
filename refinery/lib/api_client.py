"""The refinery's API as a remote worker sees it: one call at a time, with the worker token,
retried with backoff while the server is away.

A worker must outlive a restart of the server (or a network cut): connection errors,
timeouts and 5xx answers are retried until ``give_up_after`` seconds have passed. Answers
the server meant (4xx) are not retried: 409 means the lease is someone else's now
(``LeaseLost``), anything else is an ``ApiError`` carrying the server's one-line reason.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

from refinery.lib.backoff import retry_delay

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """The server refused the call; the message is its reason, ``body`` its whole answer."""

    def __init__(self, message: str, status_code: int, body: dict[str, Any] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.body = body or {}


class LeaseConflict(ApiError):
    """409: the job or input is no longer this worker's (lease expired, cancelled, …)."""


class ServerUnavailable(Exception):
    """The server did not answer within the retry window."""


class ApiClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60,
        give_up_after: float = 600,
        backoff_max: float = 30,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.give_up_after = give_up_after
        self.backoff_max = backoff_max
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=10),
            headers={"X-Worker-Token": token, "User-Agent": "wheel-refinery-worker"},
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        give_up_after: float | None = None,
        cancel: threading.Event | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One API call, retried while the server is unreachable or answers 5xx; ``cancel``
        (a worker shutting down) ends the retries at once."""
        deadline = time.monotonic() + (
            self.give_up_after if give_up_after is None else give_up_after
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500:
                    return _checked(response)
                problem = f"HTTP {response.status_code}"
            delay = retry_delay(attempt, base_seconds=1, max_seconds=self.backoff_max)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerUnavailable(f"{method} {path}: {problem} (gave up after {attempt})")
            pause = min(delay.total_seconds(), left)
            logger.warning("%s %s: %s; retrying in %.1f s", method, path, problem, pause)
            if cancel is None:
                time.sleep(pause)
            elif cancel.wait(pause):
                raise ServerUnavailable(f"{method} {path}: {problem} (stopped waiting)")

    def download(self, url: str, destination: Any) -> None:
        """Stream ``url`` (an absolute URL the server gave) into the open file."""
        with self._http.stream("GET", url) as response:
            if response.status_code != 200:
                raise ApiError(f"{url}: HTTP {response.status_code}", response.status_code)
            for chunk in response.iter_bytes(1 << 16):
                destination.write(chunk)


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code < 400:
        return response
    try:
        body = response.json()
        body = body if isinstance(body, dict) else {}
        message = str(body.get("error") or response.text)
    except ValueError:
        body, message = {}, response.text[:500]
    # A 409 with a code of its own is some other conflict than a lost lease.
    if response.status_code == 409 and "code" not in body:
        raise LeaseConflict(message, 409, body)
    raise ApiError(message, response.status_code, body)
