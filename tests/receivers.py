"""Real receivers for what the refinery sends out: an HTTP server on loopback that records
webhook deliveries and answers what a test tells it to, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Delivered:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded

    @property
    def event(self) -> str:
        return str(self.payload["type"])

    def signed_by(self, secret: str) -> bool:
        """Standard Webhooks, checked by hand (not with the library the sender uses): a v1
        signature over ``id.timestamp.body`` keyed with the secret's decoded bytes."""
        key = base64.b64decode(secret.removeprefix("whsec_"))
        content = b".".join(
            [
                self.headers["webhook-id"].encode(),
                self.headers["webhook-timestamp"].encode(),
                self.body,
            ]
        )
        expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
        given = [s.split(",", 1) for s in self.headers["webhook-signature"].split()]
        fresh = abs(time.time() - int(self.headers["webhook-timestamp"])) < 300
        return fresh and any(
            version == "v1" and hmac.compare_digest(sig, expected) for version, sig in given
        )


@dataclass
class WebhookReceiver:
    url: str
    received: list[Delivered] = field(default_factory=list)
    # Statuses to answer, in turn; when they run out, 200.
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[str]:
        with self.lock:
            return [d.event for d in self.received]

    def wait_for(self, count: int, timeout: float = 30) -> list[Delivered]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.received)} deliveries, not {count}: {self.events()}")


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.received.append(
                    Delivered({k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = receiver.answers.pop(0) if receiver.answers else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"receiver says no")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/refinery"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 30) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.05)
        return list(self.messages)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    class Handler:
        # aiosmtpd's hook name.
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            mailbox.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd checks it is up by connecting: no port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    mailbox = Mailbox(host="127.0.0.1", port=port)
    try:
        yield mailbox
    finally:
        controller.stop()
