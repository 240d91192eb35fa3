"""Reading big sdists' build requirements in a helper process, beside the resolver.

Reading an sdist is mostly inflating and hashing it, C code that lets go of the GIL, but
it does so thousands of times per file (once per TLS record and per block), and each time
it wants the GIL back it waits behind the resolver, which holds it for its whole run. In
one process, five big sdists read during a plan took about 1.5 s each instead of 0.2 s
(measured). A helper process has a GIL of its own, so the reads run on the second core.

The helper is ``python -m plans.build_requires_process``; it speaks JSON lines: the first
line it reads is the index client's options, then one line per sdist to read; it answers
one line per read, in the order they finish. It ends when its input does, after the reads
under way. Nothing here is trusted more than the in-process read: the helper runs the same
``sdist_build_requires`` (hash checked, unpacking capped) and writes the same cache.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from plans.index_client import HashMismatch, IndexClient, IndexFetchError
from plans.metadata import MetadataError, sdist_build_requires
from plans.project_pages import DistFile, parse_version

logger = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parent.parent


class HelperGone(Exception):
    """The helper could not start, or ended before it answered: read in-process instead."""


def _dist_json(dist: DistFile) -> dict[str, Any]:
    return {
        "filename": dist.filename,
        "url": dist.url,
        "sha256": dist.sha256,
        "size": dist.size,
        "name": dist.name,
        "version": str(dist.version),
    }


def _dist_from_json(data: dict[str, Any]) -> DistFile:
    return DistFile(
        filename=str(data["filename"]),
        url=str(data["url"]),
        sha256=str(data["sha256"]),
        size=data["size"],
        requires_python=None,
        yanked=False,
        upload_time=None,
        core_metadata=False,
        name=canonicalize_name(str(data["name"])),
        version=parse_version(str(data["version"])),
        is_wheel=False,
    )


class BuildRequiresProcess:
    """One helper process reading sdists for one plan's client, started on first use."""

    def __init__(self, client: IndexClient) -> None:
        self._options = client.options()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, Future[list[Requirement] | MetadataError]] = {}
        self._next_id = 0
        self._gone = False

    def read(self, sdist: DistFile) -> list[Requirement] | MetadataError:
        """What the in-process read gives (its errors included), or ``HelperGone``."""
        return self._submit(sdist).result()

    def _submit(self, sdist: DistFile) -> Future[list[Requirement] | MetadataError]:
        future: Future[list[Requirement] | MetadataError] = Future()
        with self._lock:
            if self._gone:
                raise HelperGone("the helper process is not running")
            process = self._process or self._start()
            self._next_id += 1
            self._pending[self._next_id] = future
            line = json.dumps({"id": self._next_id, "sdist": _dist_json(sdist)}).encode() + b"\n"
            try:
                assert process.stdin is not None
                process.stdin.write(line)
                process.stdin.flush()
            except OSError:
                self._pending.pop(self._next_id)
                raise HelperGone("the helper process stopped taking reads") from None
        return future

    def _start(self) -> subprocess.Popen[bytes]:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_ROOT), environment.get("PYTHONPATH", "")) if p
        )
        if not sys.executable:  # an embedded interpreter: nothing to start
            self._gone = True
            raise HelperGone("no Python executable to start the helper with")
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "plans.build_requires_process"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=environment,
            )
        except OSError as exc:
            self._gone = True
            raise HelperGone(f"could not start the helper process: {exc}") from None
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            process.stdin.write(json.dumps(self._options).encode() + b"\n")
            process.stdin.flush()
        except OSError:
            self._gone = True
            process.kill()
            raise HelperGone("the helper process ended at once") from None
        threading.Thread(
            target=self._answers, args=(process,), name="build-reqs-answers", daemon=True
        ).start()
        logger.info("reading big sdists in a helper process (pid %s)", process.pid)
        self._process = process
        return process

    def _answers(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                answer = json.loads(line)
                with self._lock:
                    future = self._pending.pop(int(answer["id"]))
            except (ValueError, KeyError, TypeError):
                logger.warning("build requirements helper said something unexpected: %r", line)
                continue
            try:
                _settle(future, answer)
            except Exception as exc:  # a reader must never wait on an answer that broke
                future.set_exception(HelperGone(f"unreadable answer: {exc}"))
        with self._lock:  # the helper ended: whoever still waits reads in-process
            self._gone = True
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(HelperGone("the helper process ended before answering"))
        process.wait()

    def close(self) -> None:
        """No more reads: the helper finishes those under way (they fill the cache), then ends."""
        with self._lock:
            self._gone = True
            if self._process is not None and self._process.stdin is not None:
                with contextlib.suppress(OSError):
                    self._process.stdin.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None


def _settle(future: Future[list[Requirement] | MetadataError], answer: dict[str, Any]) -> None:
    if "requires" in answer:
        future.set_result([Requirement(text) for text in answer["requires"]])
    elif "unreadable" in answer:
        future.set_result(MetadataError(str(answer["unreadable"])))
    elif "hash_mismatch" in answer:
        future.set_exception(HashMismatch(str(answer["hash_mismatch"])))
    elif "unfetchable" in answer:
        future.set_exception(IndexFetchError(str(answer["unfetchable"])))
    else:  # the helper's own failure: the in-process read decides
        future.set_exception(HelperGone(str(answer.get("failed", "no answer"))))


def _answer(client: IndexClient, request: dict[str, Any]) -> dict[str, Any]:
    try:
        declared = sdist_build_requires(client, _dist_from_json(request["sdist"]))
    except MetadataError as exc:
        return {"unreadable": str(exc)}
    except HashMismatch as exc:
        return {"hash_mismatch": str(exc)}
    except IndexFetchError as exc:
        return {"unfetchable": str(exc)}
    except Exception as exc:  # reported, and read again in the planner's own process
        return {"failed": f"{type(exc).__name__}: {exc}"}
    return {"requires": [str(r) for r in declared]}


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The helper's loop: options, then one read per line, answered as each finishes."""
    options = json.loads(requests.readline())
    lock = threading.Lock()
    with (
        IndexClient.from_options(options) as client,
        ThreadPoolExecutor(client.workers, thread_name_prefix="build-reqs") as pool,
    ):

        def answer(request: dict[str, Any]) -> None:
            reply = json.dumps({"id": request["id"], **_answer(client, request)}).encode()
            with lock:
                answers.write(reply + b"\n")
                answers.flush()

        for line in requests:
            pool.submit(answer, json.loads(line))


if __name__ == "__main__":
    # The answers own the original stdout; anything else written to descriptor 1 (print, or
    # a C library) goes to stderr instead of into the protocol.
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve(sys.stdin.buffer, protocol_out)
