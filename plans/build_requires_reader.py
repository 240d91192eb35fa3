"""Reading the build requirements of a plan's sdists, started as early as possible.

A cold full plan downloads every sdist it must build to open its ``pyproject.toml``, which
costs more than resolving the runtime closure. So the read starts the moment the resolver
pins a candidate that must be built (while it goes on resolving the rest), and the reads run
in parallel; the breadth-first walk over build environments then mostly finds them done.
Each read, once done, hands what it found to ``on_declared``: the planner then fetches
those requirements' pages and metadata, so the build environments resolve later without
waiting on the network. Big sdists are read in a helper process
(``plans.build_requires_process``), beside the resolver rather than under its GIL.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from packaging.requirements import Requirement

from plans.build_requires_process import BuildRequiresProcess, HelperGone
from plans.index_client import DistFile, IndexClient
from plans.metadata import MetadataError, cached_build_requires, sdist_build_requires
from plans.resolver import Candidate

logger = logging.getLogger(__name__)

Declared = list[Requirement] | MetadataError

# Sdists this big are read in the helper process: below it a read takes a few milliseconds
# even beside the resolver, less than handing it over (lxml's 4.5 MB: 20 ms alone).
HELPER_FROM_BYTES = 4 * 1024 * 1024


class BuildRequiresReader:
    def __init__(self, client: IndexClient, *, helper_from_bytes: int = HELPER_FROM_BYTES) -> None:
        self.client = client
        self.helper = BuildRequiresProcess(client)
        self._helper_from = helper_from_bytes
        # Told of each sdist's build requirements as soon as they are read.
        self.on_declared: Callable[[list[Requirement]], None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=client.workers, thread_name_prefix="build-reqs")
        self._reads: dict[str, Future[Declared]] = {}
        self._lock = threading.Lock()  # guesses arrive from the index client's threads
        self._closed = False

    def prefetch(self, candidate: Candidate) -> None:
        """Called as the resolver pins ``candidate``, or guesses it will: start reading if
        it must be built (a wrong guess costs one read, which nothing waits for)."""
        if candidate.action == "build" and not candidate.dist.is_wheel:
            self.start(candidate.dist)

    def start(self, sdist: DistFile) -> None:
        self._future(sdist)

    def read(self, sdist: DistFile) -> Declared:
        """The sdist's build requirements, or why they cannot be read."""
        return self._future(sdist).result()

    def close(self) -> None:
        """Reads not started are dropped; one under way finishes and is kept in the cache."""
        with self._lock:
            self._closed = True
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.helper.close()

    def _future(self, sdist: DistFile) -> Future[Declared]:
        with self._lock:
            known = self._reads.get(sdist.sha256)
            if known is None and self._closed:  # a late guess, after the plan ended
                known = Future()
                known.cancel()
            elif known is None:
                known = self._reads[sdist.sha256] = self._pool.submit(self._declared, sdist)
            return known

    def _declared(self, sdist: DistFile) -> Declared:
        declared = self._read(sdist)
        if isinstance(declared, MetadataError):
            return declared
        if self.on_declared is not None:
            try:
                self.on_declared(declared)
            except Exception:  # a head start, never a reason to lose the read
                logger.warning(
                    "%s: prefetching its build requirements failed", sdist.filename, exc_info=True
                )
        return declared

    def _read(self, sdist: DistFile) -> Declared:
        big = (sdist.size or 0) >= self._helper_from
        if big and cached_build_requires(self.client, sdist) is None:
            try:
                return self.helper.read(sdist)
            except HelperGone as exc:
                logger.info("%s: read here instead (%s)", sdist.filename, exc)
        try:
            return sdist_build_requires(self.client, sdist)
        except MetadataError as exc:
            return exc
