"""The web server answers repeats of published page requests as it parses them, with the
same bytes the app sent the first time; everything else still goes through the app."""

from __future__ import annotations

import asyncio
import re
import socket

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from builds.index.fast_path import IndexFastPath
from builds.index.http_protocol import IndexHttpToolsProtocol
from builds.index.publishing import refresh_project
from plans.models import Target
from tests.factories import ArtifactFactory, TargetFactory

pytestmark = pytest.mark.django_db
JSON = "application/vnd.pypi.simple.v1+json"
DATE = re.compile(rb"date: [^\r]*\r\n")


class Transport(asyncio.Transport):
    """A client connection: what the server wrote, and whether it hung up."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class CountingApp:
    """The refinery's fast path in front of a stand-in for Django, counting what reaches
    the ASGI app at all."""

    def __init__(self) -> None:
        self.calls = 0
        self.fast_path = IndexFastPath(self.django)

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await self.fast_path(scope, receive, send)

    async def django(self, scope, receive, send):
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})


class Connection:
    """One client connection to uvicorn's protocol with the lane, on a running loop."""

    def __init__(self, app: CountingApp) -> None:
        config = Config(app=app, lifespan="off", proxy_headers=True, access_log=False)
        state = ServerState()
        state.default_headers = [(b"date", b"Mon, 07 Dec 2026 12:00:00 GMT")]
        self.state = state
        self.protocol = IndexHttpToolsProtocol(config, state, {}, _loop=asyncio.get_running_loop())
        self.transport = Transport()
        self.protocol.connection_made(self.transport)

    async def send(self, raw: bytes) -> bytes:
        """Feeds ``raw`` and returns what the server wrote once its tasks are done."""
        start = len(self.transport.written)
        self.protocol.data_received(raw)
        while self.state.tasks:
            await asyncio.gather(*self.state.tasks)
        await asyncio.sleep(0)
        return bytes(self.transport.written[start:])


def request(path: str = "/simple/demo/", *extra: str, method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: testserver", f"Accept: {JSON}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture
def published(settings):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    ArtifactFactory(target=target, name="demo", filename="demo-1.0-py3-none-any.whl")
    refresh_project("demo")


def test_a_repeated_page_request_is_answered_without_the_app_with_the_same_bytes(published):
    async def scenario() -> tuple[bytes, bytes, int]:
        app = CountingApp()
        connection = Connection(app)
        first = await connection.send(request())
        repeat = await connection.send(request())
        return first, repeat, app.calls

    first, repeat, calls = asyncio.run(scenario())

    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"demo-1.0-py3-none-any.whl" in first
    assert repeat == first
    assert calls == 1


def test_a_head_repeat_sends_the_headers_alone(published):
    async def scenario() -> tuple[bytes, bytes, int]:
        app = CountingApp()
        connection = Connection(app)
        first = await connection.send(request(method="HEAD"))
        repeat = await connection.send(request(method="HEAD"))
        return first, repeat, app.calls

    first, repeat, calls = asyncio.run(scenario())

    assert repeat == first
    assert repeat.endswith(b"\r\n\r\n")
    assert b"demo-1.0" not in repeat
    assert calls == 1


def test_the_lane_sends_the_date_the_server_keeps(published):
    async def scenario() -> bytes:
        connection = Connection(CountingApp())
        await connection.send(request())
        connection.state.default_headers = [(b"date", b"Tue, 08 Dec 2026 09:30:00 GMT")]
        return await connection.send(request())

    assert b"date: Tue, 08 Dec 2026 09:30:00 GMT\r\n" in asyncio.run(scenario())


@pytest.mark.parametrize(
    "extra",
    [
        ('If-None-Match: "x"',),
        ("Connection: close",),
        ("X-Forwarded-Proto: https",),
        ("Expect: 100-continue",),
    ],
    ids=["validator", "connection-close", "forwarded-scheme", "expect"],
)
def test_a_request_that_is_more_than_a_plain_repeat_goes_through_the_app(published, extra):
    async def scenario() -> int:
        app = CountingApp()
        connection = Connection(app)
        await connection.send(request())
        await connection.send(request("/simple/demo/", *extra))
        return app.calls

    assert asyncio.run(scenario()) == 2


def test_a_query_string_or_another_page_goes_through_the_app(published):
    async def scenario() -> tuple[int, bytes]:
        app = CountingApp()
        connection = Connection(app)
        await connection.send(request())
        await connection.send(request("/simple/demo/?format=json"))
        other = await connection.send(request("/simple/other/"))
        return app.calls, other

    calls, other = asyncio.run(scenario())

    assert calls == 3
    assert other.startswith(b"HTTP/1.1 599")


def test_pipelined_repeats_are_answered_in_order(published):
    async def scenario() -> tuple[bytes, bytes]:
        connection = Connection(CountingApp())
        first = await connection.send(request())
        both = await connection.send(request() + request("/simple/other/"))
        return first, both

    first, both = asyncio.run(scenario())

    assert both.startswith(first)
    assert both[len(first) :].startswith(b"HTTP/1.1 599")


def test_a_fault_in_the_lane_leaves_the_request_to_the_app(published, monkeypatch, caplog):
    async def scenario() -> tuple[bytes, bytes, int]:
        app = CountingApp()
        connection = Connection(app)
        first = await connection.send(request())
        monkeypatch.setattr(
            "builds.index.http_protocol.kept_answer", lambda *args: 1 / 0, raising=True
        )
        return first, await connection.send(request()), app.calls

    first, repeat, calls = asyncio.run(scenario())

    assert repeat == first
    assert calls == 2
    assert "index lane: b'/simple/demo/' left to the app" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_republished_page_is_answered_anew(published):
    def publish_another_version() -> None:  # as a build worker does, beside the server
        target = Target.objects.get(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
        ArtifactFactory(target=target, name="demo", version="2.0")
        refresh_project("demo")

    async def scenario() -> tuple[bytes, int]:
        app = CountingApp()
        connection = Connection(app)
        await connection.send(request())
        await asyncio.to_thread(publish_another_version)
        return await connection.send(request()), app.calls

    answer, calls = asyncio.run(scenario())

    assert b"demo-2.0-py3-none-any.whl" in answer
    assert calls == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "two-processes"])
def test_the_running_server_answers_repeats_on_one_connection_alike(
    settings, start_refinery, workers
):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    ArtifactFactory(target=target, name="demo", filename="demo-1.0-py3-none-any.whl")
    refresh_project("demo")
    host, port = start_refinery(workers=workers).removeprefix("http://").split(":")
    answers = []
    with socket.create_connection((host, int(port)), timeout=10) as client:
        for _ in range(3):
            client.sendall(request().replace(b"testserver", f"{host}:{port}".encode()))
            answers.append(_read_response(client))

    assert answers[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"demo-1.0-py3-none-any.whl" in answers[0]
    assert DATE.sub(b"", answers[1]) == DATE.sub(b"", answers[0])
    assert DATE.sub(b"", answers[2]) == DATE.sub(b"", answers[0])


def _read_response(client: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        received += client.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    assert length is not None
    while len(body) < int(length[1]):
        body += client.recv(65536)
    return head + b"\r\n\r\n" + body
