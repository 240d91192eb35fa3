"""Live build logs and plan status over websockets, on both transports: the embedded
default (the consumer reads new rows itself) and Redis (channels-redis carries the lines)."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.layers import channel_layers
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import connections
from rest_framework.authtoken.models import Token

from builds import consumers
from builds import queue as build_queue
from builds.log_sink import store_chunk
from refinery.lib.ws_auth import HeaderTokenAuthMiddleware
from refinery.routing import websocket_urlpatterns
from tests.factories import BuildJobFactory, PlanFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

APP = AuthMiddlewareStack(HeaderTokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
REDIS = "redis://127.0.0.1:6379/5"


@pytest.fixture(params=["embedded", "redis"])
def transport(request, settings, monkeypatch):
    if request.param == "redis":
        settings.REDIS_URL = REDIS
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [REDIS]},
            }
        }
        # No polling to speak of: lines can only arrive through Redis.
        monkeypatch.setattr(consumers, "POLL_WITH_REDIS_SECONDS", 3600)
    else:
        settings.REDIS_URL = None
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends = {}
    yield request.param
    channel_layers.backends = {}


@pytest_asyncio.fixture(autouse=True)
async def _close_worker_thread_connections():
    """``sync_to_async`` runs the tests' queries in a thread of its own, whose connection
    would otherwise outlive the test and keep the test database from being dropped."""
    yield
    await sync_to_async(connections.close_all)()


def _token() -> str:
    user = User.objects.create_user("reader", password="x")
    return str(Token.objects.create(user=user).key)


async def _connect(path: str, token: str | None = None) -> WebsocketCommunicator:
    headers = [(b"authorization", f"Token {token}".encode())] if token else []
    communicator = WebsocketCommunicator(APP, path, headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


def _write(job_id: int, attempt: int, seq: int, *lines: str) -> None:
    store_chunk(job_id, attempt, seq, "".join(f"{line}\n" for line in lines))


async def _lines_until(communicator, count: int) -> list[dict[str, Any]]:
    messages, got = [], 0
    while got < count:
        message = await communicator.receive_json_from(timeout=10)
        messages.append(message)
        got += len(message.get("lines", []))
    return messages


async def test_the_backlog_then_live_lines_then_finished(transport):
    token = await sync_to_async(_token)()
    job = await sync_to_async(BuildJobFactory)(status="building", lease_owner="w")
    await sync_to_async(_write)(job.pk, 1, 0, "one", "two")
    socket = await _connect(f"/ws/builds/{job.pk}/log/", token)

    backlog = await socket.receive_json_from(timeout=10)
    assert backlog == {"type": "lines", "attempt": 1, "seq": 0, "lines": ["one", "two"]}

    await sync_to_async(_write)(job.pk, 1, 1, "three")
    live = await socket.receive_json_from(timeout=10)
    assert live == {"type": "lines", "attempt": 1, "seq": 2, "lines": ["three"]}

    await sync_to_async(build_queue.complete)(job.pk, "w")
    assert await socket.receive_json_from(timeout=10) == {"type": "finished", "status": "built"}
    await socket.disconnect()


async def test_a_reconnect_with_since_resumes_with_no_gap_and_no_repeat(transport):
    token = await sync_to_async(_token)()
    job = await sync_to_async(BuildJobFactory)(status="building", lease_owner="w")
    await sync_to_async(_write)(job.pk, 1, 0, *[f"line {i}" for i in range(5)])
    socket = await _connect(f"/ws/builds/{job.pk}/log/?since=3", token)
    assert await socket.receive_json_from(timeout=10) == {
        "type": "lines",
        "attempt": 1,
        "seq": 3,
        "lines": ["line 3", "line 4"],
    }
    await socket.disconnect()
    # Meanwhile the build went on, into a second attempt.
    await sync_to_async(_write)(job.pk, 1, 1, "line 5")
    await sync_to_async(_write)(job.pk, 2, 0, "again 6", "again 7")
    socket = await _connect(f"/ws/builds/{job.pk}/log/?since=5", token)
    messages = await _lines_until(socket, 3)
    assert [(m["attempt"], m["seq"], m["lines"]) for m in messages] == [
        (1, 5, ["line 5"]),
        (2, 6, ["again 6", "again 7"]),
    ]
    await socket.disconnect()


async def test_anonymous_and_wrong_credentials_are_refused(transport):
    job = await sync_to_async(BuildJobFactory)()
    for headers in ([], [(b"authorization", b"Token not-a-key")]):
        communicator = WebsocketCommunicator(APP, f"/ws/builds/{job.pk}/log/", headers=headers)
        connected, code = await communicator.connect(timeout=10)
        assert not connected
        assert code == consumers.REFUSED


async def test_a_plans_jobs_report_their_status_changes(transport):
    token = await sync_to_async(_token)()
    plan = await sync_to_async(PlanFactory)()
    job = await sync_to_async(BuildJobFactory)(
        name="markupsafe", version="2.1.5", plan=plan, status="building", lease_owner="w"
    )
    socket = await _connect(f"/ws/plans/{plan.pk}/", token)
    snapshot = await socket.receive_json_from(timeout=10)
    assert snapshot["type"] == "snapshot"
    assert snapshot["nodes"] == {"markupsafe==2.1.5": "building"}
    await sync_to_async(build_queue.complete)(job.pk, "w")
    change = await socket.receive_json_from(timeout=10)
    assert change == {
        "type": "status",
        "node": "markupsafe==2.1.5",
        "job": job.pk,
        "status": "built",
    }
    await socket.disconnect()
