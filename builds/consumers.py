"""Live build logs and plan status over websockets.

``ws /ws/builds/<job_id>/log/?since=<seq>``: the job's log from line ``since`` (default 0),
then new lines as they are stored, then ``{"type": "finished", "status": …}`` once the job
is final. Each message is ``{"type": "lines", "attempt": A, "seq": N, "lines": [...]}``,
``seq`` being the number of its first line over the job's whole log: a reconnect with
``since=K`` resumes at line K with no gap and no repeat.

``ws /ws/plans/<plan_id>/``: ``{"type": "snapshot", "nodes": {"name==version": status}}``,
then ``{"type": "status", "node": …, "job": id, "status": …}`` for each change.

The database is the source of truth. With Redis (``REDIS_URL``) workers' news arrives over
the channel layer and is sent at once; the database is read to fill any gap and, every few
seconds, in case a message was dropped. Without it (the embedded default) the consumer
reads new rows itself every fraction of a second. Sockets without a credential are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from builds import live
from builds.log_reader import LineBatch, lines_since
from builds.models import BuildJob
from plans.models import Plan
from refinery.lib.numbers import natural_number

# How often a consumer reads the database for news: quickly when no channel layer carries
# it, as a safety net when one does.
POLL_ALONE_SECONDS = 0.2
POLL_WITH_REDIS_SECONDS = 3.0
MAX_LINES_PER_MESSAGE = 1000
REFUSED = 4403  # the close code of a socket without a credential
GONE = 4404


def _poll_interval() -> float:
    return POLL_WITH_REDIS_SECONDS if live.crosses_processes() else POLL_ALONE_SECONDS


def _may_read(scope: dict[str, Any]) -> bool:
    user = scope.get("user")
    return bool(scope.get("worker") or (user is not None and user.is_authenticated))


def _job_state(job_id: int) -> tuple[str, bool] | None:
    job = BuildJob.objects.filter(pk=job_id).only("status").first()
    return None if job is None else (job.status, job.is_final)


class _LiveConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """A socket fed by a pump task and, with Redis, by the channel layer group it joined."""

    group: str | None = None
    pump: asyncio.Future[None] | None = None

    async def start_pumping(self, group: str, pump: Callable[[], Awaitable[None]]) -> None:
        """Join ``group`` (with Redis) and run ``pump`` until the socket closes."""
        if live.crosses_processes():
            self.group = group
            await self.channel_layer.group_add(group, self.channel_name)
        self.pump = asyncio.ensure_future(pump())

    async def disconnect(self, code: int) -> None:
        if self.pump is not None:
            self.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.pump
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)


class BuildLogConsumer(_LiveConsumer):
    async def connect(self) -> None:
        if not _may_read(self.scope):
            await self.close(code=REFUSED)
            return
        self.job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        since = query.get("since", ["0"])[0]
        if natural_number(since) is None:
            await self.close(code=4400)
            return
        if await database_sync_to_async(_job_state)(self.job_id) is None:
            await self.close(code=GONE)
            return
        self.cursor = natural_number(since) or 0
        self.lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self.finished = False
        await self.accept()
        await self.start_pumping(live.log_group(self.job_id), self._pump)

    async def _send_batch(self, batch: LineBatch) -> None:
        """Send what of ``batch`` lies at or after the cursor (never a line twice)."""
        skip = max(0, self.cursor - batch.seq)
        lines = batch.lines[skip:]
        for start in range(0, len(lines), MAX_LINES_PER_MESSAGE):
            part = lines[start : start + MAX_LINES_PER_MESSAGE]
            seq = batch.seq + skip + start
            await self.send_json(
                {"type": "lines", "attempt": batch.attempt, "seq": seq, "lines": part}
            )
            self.cursor = seq + len(part)

    async def _catch_up(self) -> None:
        """Send every stored line past the cursor, then ``finished`` if the job is final."""
        async with self.lock:
            state = await database_sync_to_async(_job_state)(self.job_id)
            while True:
                batches = await database_sync_to_async(lines_since)(self.job_id, self.cursor)
                for batch in batches:
                    await self._send_batch(batch)
                if not batches:
                    break
            # The status was read before the lines: a final job's last lines are all in.
            if state is not None and state[1] and not self.finished:
                self.finished = True
                await self.send_json({"type": "finished", "status": state[0]})
                await self.close()

    async def _pump(self) -> None:
        while not self.finished:
            await self._catch_up()
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), _poll_interval())

    async def log_lines(self, event: dict[str, Any]) -> None:
        """A worker's new lines (Redis): sent at once when they follow on; a gap wakes the
        pump to fill it from the database."""
        batch = LineBatch(event["attempt"], event["seq"], list(event["lines"]))
        async with self.lock:
            if self.finished:
                return
            if batch.seq <= self.cursor < batch.seq + len(batch.lines):
                await self._send_batch(batch)
                return
        if batch.seq > self.cursor:
            self.wake.set()

    async def job_status(self, event: dict[str, Any]) -> None:
        self.wake.set()


def _plan_statuses(plan_id: int) -> dict[str, tuple[int, str]] | None:
    if not Plan.objects.filter(pk=plan_id).exists():
        return None
    statuses: dict[str, tuple[int, str]] = {}
    for job_id, name, version, status in (
        BuildJob.objects.filter(plan_id=plan_id)
        .order_by("pk")
        .values_list("pk", "name", "version", "status")
    ):
        statuses[f"{name}=={version}"] = (job_id, status)
    return statuses


class PlanConsumer(_LiveConsumer):
    async def connect(self) -> None:
        if not _may_read(self.scope):
            await self.close(code=REFUSED)
            return
        self.plan_id = int(self.scope["url_route"]["kwargs"]["plan_id"])
        known = await database_sync_to_async(_plan_statuses)(self.plan_id)
        if known is None:
            await self.close(code=GONE)
            return
        self.known = known
        self.wake = asyncio.Event()
        await self.accept()
        await self.send_json(
            {
                "type": "snapshot",
                "nodes": {node: status for node, (_, status) in known.items()},
                "jobs": {node: job for node, (job, _) in known.items()},
            }
        )
        await self.start_pumping(live.plan_group(self.plan_id), self._pump)

    async def _refresh(self) -> None:
        current = await database_sync_to_async(_plan_statuses)(self.plan_id) or {}
        for node, (job, status) in current.items():
            if self.known.get(node) != (job, status):
                self.known[node] = (job, status)
                await self.send_json({"type": "status", "node": node, "job": job, "status": status})

    async def _pump(self) -> None:
        while True:
            await self._refresh()
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), max(_poll_interval(), 1.0))

    async def job_status(self, event: dict[str, Any]) -> None:
        self.wake.set()
