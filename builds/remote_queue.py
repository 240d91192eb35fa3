"""The build queue over HTTP, for workers that only reach the refinery's API.

``HttpBuildQueue`` implements the same ``BuildQueue`` interface as ``LocalBuildQueue``,
so ``builds.worker.drain`` and ``build_one`` run unchanged on a remote (s390x) machine.
It never touches a database.

When the server goes away mid-build the worker keeps building: heartbeats that cannot be
delivered are skipped, log chunks wait in memory, and reports are retried with backoff.
If the server comes back after the lease expired, the job may have been given to
another worker; our late reports then get 409 and are dropped (the lease decides).
"""

from __future__ import annotations

import json
import logging
import tempfile
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from builds import queue as build_queue
from builds.artifacts import FilenameTaken, file_sha256
from builds.claims import ClaimFormatError, claim_from_json
from builds.failure_reasons import FailureReason
from builds.log_sink import BatchingSink
from builds.worker import ClaimedJob
from refinery.lib.api_client import ApiClient, ApiError, LeaseConflict, ServerUnavailable

logger = logging.getLogger(__name__)

# Log chunks kept while the server is unreachable; beyond this the oldest are dropped
# (and the gap is said in the log) rather than let a chatty build exhaust memory.
MAX_PENDING_LOG_BYTES = 16 * 1024 * 1024


class LeaseLost(build_queue.QueueError):
    """The server says the job is not ours any more; ``build_one`` stops reporting on it."""


class HttpBuildQueue:
    def __init__(
        self,
        client: ApiClient,
        worker_id: str,
        *,
        arches: list[str] | None = None,
        heartbeat_timeout: float = 20,
        claim_timeout: float = 10,
    ) -> None:
        self.client = client
        self.worker_id = worker_id
        self.arches = arches
        self.heartbeat_timeout = heartbeat_timeout
        self.claim_timeout = claim_timeout
        self._sinks: dict[int, HttpLogSink] = {}

    def _report(
        self,
        job_id: int,
        worker_id: str,
        status: str,
        *,
        give_up_after: float | None = None,
        **fields: Any,
    ) -> str:
        try:
            response = self.client.call(
                "POST",
                "/api/builds/status",
                give_up_after=give_up_after,
                json={"job_id": job_id, "worker": worker_id, "status": status, **fields},
            )
        except LeaseConflict as exc:
            raise LeaseLost(str(exc)) from None
        return str(response.json()["state"])

    def claim(self, worker_id: str, max_n: int) -> list[ClaimedJob]:
        """Up to ``max_n`` jobs; none while the server is away (the builds already running
        go on, and the next pass asks again)."""
        params: dict[str, Any] = {"max": max_n, "worker": worker_id}
        if self.arches:
            params["arch"] = self.arches
        try:
            body = self.client.call(
                "POST", "/api/build-queue/pop", params=params, give_up_after=self.claim_timeout
            ).json()
        except ServerUnavailable as exc:
            logger.warning("no claim: %s", exc)
            return []
        jobs = []
        for item in body.get("jobs", []):
            try:
                jobs.append(claim_from_json(item))
            except ClaimFormatError as exc:
                # Not buildable as sent: fail it, or the lease would hold it until it expired.
                logger.error("%s", exc)
                if isinstance(item, dict) and isinstance(item.get("id"), int):
                    self.fail(
                        item["id"], worker_id, reason=FailureReason.BUILD_ERROR, error=str(exc)
                    )
        return jobs

    def heartbeat(self, job_id: int, worker_id: str) -> str:
        """``ok`` while the job is ours; the job's status when it is not. An unreachable
        server is not a reason to stop building: the lease decides once it is back."""
        try:
            return self._report(
                job_id, worker_id, "heartbeat", give_up_after=self.heartbeat_timeout
            )
        except ServerUnavailable:
            logger.warning("job %s: heartbeat not delivered; building on", job_id)
            return "ok"
        except ApiError as exc:
            return "gone" if exc.status_code == 404 else "ok"

    def still_ours(self, job_id: int, worker_id: str) -> str:
        """The job as the server has it; "ok" when it cannot say (the lease decides)."""
        try:
            job = self.client.call(
                "GET", f"/api/builds/{job_id}", give_up_after=self.heartbeat_timeout
            ).json()
        except ServerUnavailable:
            return "ok"
        except ApiError as exc:
            return "gone" if exc.status_code == 404 else "ok"
        owner = str(job.get("lease_owner", ""))
        held = job.get("status") in ("leased", "building") and (
            owner == worker_id or owner.endswith(f"/{worker_id}")
        )
        return "ok" if held else str(job.get("status", "gone"))

    def start(self, job_id: int, worker_id: str) -> None:
        self._report(job_id, worker_id, "building")

    def _deliver_log(self, job_id: int) -> None:
        """The job's log reaches the server before its outcome does: once the job is
        finished the lease is gone, and chunks from a worker without it are refused."""
        sink = self._sinks.pop(job_id, None)
        if sink is not None:
            sink.close(give_up_after=self.client.give_up_after)

    def complete(self, job_id: int, worker_id: str, message: str) -> None:
        self._deliver_log(job_id)
        self._report(job_id, worker_id, "built", message=message[:2000])

    def fail(
        self, job_id: int, worker_id: str, *, reason: str, error: str, runner: str = ""
    ) -> None:
        self._deliver_log(job_id)
        self._report(
            job_id, worker_id, "failed", reason=reason, error=error[:20_000], runner=runner
        )

    def release(self, job_id: int, worker_id: str) -> None:
        self._deliver_log(job_id)
        self._report(job_id, worker_id, "released")

    def follow_ups_in_background(self) -> AbstractContextManager[None]:
        """Nothing to do: the refinery follows up each report as it takes it."""
        return nullcontext()

    def discard_scratch(self, scratch: tempfile.TemporaryDirectory[str]) -> None:
        scratch.cleanup()

    def log_sink(self, job: ClaimedJob) -> HttpLogSink:
        sink = self._sinks[job.id] = HttpLogSink(self.client, job.id, self.worker_id, job.attempt)
        return sink

    def store(self, job: ClaimedJob, wheel: Path, provenance: dict[str, Any]) -> str:
        with wheel.open("rb") as handle:
            try:
                response = self.client.call(
                    "POST",
                    f"/api/builds/{job.id}/wheel",
                    data={"worker": self.worker_id, "provenance": json.dumps(provenance)},
                    files={"file": (wheel.name, handle, "application/octet-stream")},
                )
            except LeaseConflict as exc:
                raise LeaseLost(str(exc)) from None
            except ApiError as exc:
                if exc.body.get("code") == "filename_taken":
                    raise FilenameTaken(
                        wheel.name, str(exc.body["published_sha256"]), file_sha256(wheel)
                    ) from None
                raise
        return str(response.json()["sha256"])

    def wheelhouse(self, job: ClaimedJob, directory: Path) -> list[str]:
        """Our wheels of the job's build environment, each checked against its sha256;
        trouble here is ``OSError``, which ``build_one`` reports as infrastructure."""
        directory.mkdir(parents=True, exist_ok=True)
        try:
            body = self.client.call(
                "GET", f"/api/builds/{job.id}/wheelhouse", params={"worker": self.worker_id}
            ).json()
            for wheel in body["wheels"]:
                name = Path(str(wheel["filename"])).name
                path = directory / name
                with path.open("wb") as out:
                    self.client.download(str(wheel["url"]), out)
                if file_sha256(path) != wheel["sha256"]:
                    raise OSError(f"{name}: downloaded bytes do not match sha256 {wheel['sha256']}")
        except (ApiError, ServerUnavailable) as exc:
            raise OSError(f"wheelhouse of job {job.id}: {exc}") from exc
        return [str(pin) for pin in body["pins"]]


class HttpLogSink(BatchingSink):
    """Build output sent as numbered chunks to ``/api/logs/stream``; chunks that cannot be
    delivered yet are kept and sent, in order, with the next ones."""

    def __init__(self, client: ApiClient, job_id: int, worker_id: str, attempt: int) -> None:
        super().__init__()
        self.client = client
        self.job_id = job_id
        self.worker_id = worker_id
        self.attempt = attempt
        self._pending: list[tuple[int, str]] = []
        self._lost = False
        self._give_up_after = 5.0

    def deliver(self, seq: int, text: str) -> None:
        self._pending.append((seq, text))
        self._trim()
        self._send_pending()

    def _send_pending(self) -> None:
        while self._pending and not self._lost:
            seq, text = self._pending[0]
            try:
                self.client.call(
                    "POST",
                    "/api/logs/stream",
                    give_up_after=self._give_up_after,
                    json={
                        "job_id": self.job_id,
                        "worker": self.worker_id,
                        "attempt": self.attempt,
                        "seq": seq,
                        "text": text,
                    },
                )
            except ServerUnavailable:
                return  # kept; sent with the next chunk
            except LeaseConflict as exc:
                # The job is someone else's now; its log is no longer ours to write.
                logger.warning("job %s: log refused from chunk %s on: %s", self.job_id, seq, exc)
                self._lost = True
                return
            except ApiError as exc:
                # This chunk cannot be stored (the server says why); the rest still can.
                logger.warning("job %s: log chunk %s refused: %s", self.job_id, seq, exc)
            self._pending.pop(0)

    def _trim(self) -> None:
        size = sum(len(text) for _, text in self._pending)
        dropped = 0
        while size > MAX_PENDING_LOG_BYTES and len(self._pending) > 1:
            size -= len(self._pending.pop(0)[1])
            dropped += 1
        if dropped:
            seq, text = self._pending[0]
            note = f"worker: {dropped} log chunks dropped while the server was unreachable\n"
            self._pending[0] = (seq, note + text)

    def close(self, *, give_up_after: float = 60.0) -> None:
        """Send what is left, waiting up to ``give_up_after`` for an absent server."""
        self._give_up_after = give_up_after
        super().close()  # the cut log's tail too, and the idle flusher stopped
        self._send_pending()
