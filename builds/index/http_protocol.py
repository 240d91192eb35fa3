"""uvicorn's httptools protocol with a lane for repeated index page requests.

Through ASGI, every request costs uvicorn a scope, a request cycle, an event, a task and
two sends that check each header (measured: a bare ASGI app answering fixed bytes reaches
about half of nginx's rate on this machine). A repeat of a plain page request the fast path
has already answered (``builds/index/fast_path.py`` keeps the answer by what decides it) is
written here as soon as its headers are parsed: the status line and uvicorn's own headers
(``date``, ``server``), then the kept bytes, exactly what the ASGI path would write.

Anything else, and any request this connection is not in a plain state for (a response
still being sent, pipelined requests queued, the write buffer full, ``Connection: close``,
HTTP/1.0, ``Expect``, an access log to write, a concurrency limit to enforce), goes through
uvicorn's ASGI path unchanged. Used by ``manage.py serve`` (``--http``).
"""

from __future__ import annotations

import logging
import os

import django
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# uvicorn imports its protocol before the app (with --workers, in each worker process), and
# the fast path's imports need Django set up, which the app would do.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refinery.settings")
django.setup()

from builds.index.fast_path import kept_answer  # noqa: E402

logger = logging.getLogger(__name__)


class IndexHttpToolsProtocol(HttpToolsProtocol):
    answered_here = False

    def on_message_begin(self) -> None:
        self.answered_here = False
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if self._answer_kept_page():
            self.answered_here = True
            return
        super().on_headers_complete()

    # A request answered here has no cycle of its own for its body to go to.
    def on_body(self, body: bytes) -> None:
        if not self.answered_here:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.answered_here:
            super().on_message_complete()

    def _answer_kept_page(self) -> bool:
        cycle = self.cycle
        if (
            (cycle is not None and not cycle.response_complete)
            or self.pipeline
            or self.flow.write_paused
            or self.expect_100_continue
            or self.access_log
            or self.limit_concurrency is not None
            or self.root_path
            or self.transport.is_closing()
        ):
            return False
        parser = self.parser
        method = parser.get_method()
        if (
            (method != b"GET" and method != b"HEAD")
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
        ):
            return False
        # The key's path is the URL as sent: one with a query, an escape or a full URL
        # matches no kept answer (those are kept under the decoded path alone).
        try:
            answer = kept_answer(
                self.url.decode("latin-1"), method.decode(), self.scheme or "http", self.headers
            )
        except Exception:  # raised here it would drop the connection; the app answers instead
            logger.exception("index lane: %s left to the app", self.url[:200])
            return False
        if answer is None:
            return False
        status, head, body = answer
        own = b"".join(
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        )
        self.transport.write(b"".join((STATUS_LINE[status], own, head, body)))
        # As after a response through ASGI: counted, reading resumed, keep-alive timer armed.
        self.on_response_complete()
        return True
