"""A stamp that every process on this host sees change when a simple page is published.

The index's fast path keeps ready answers in each web process. Checking a kept answer's file
with ``stat`` on every hit cost about 5 us of a 42 us request under load (bench/index.py).
Instead, writers change these 8 bytes (``<INDEX_PAGES_DIR>/.published``) after their files
are in place, and readers look at them through a shared memory map, which costs no system
call. A reader keeps no stamp of its own: only whether the stamp moved since an answer was
last checked matters, so a random value per publish does (two writers cannot undo each
other's change), and a read torn by a concurrent write only costs one more check.
"""

from __future__ import annotations

import mmap
import os
import secrets
from pathlib import Path

STAMP_FILE = ".published"
_SIZE = 8
_REOPEN_SECONDS = 1.0  # a stamp file replaced by hand (a wiped folder) is followed this late


class PublishStamp:
    def __init__(self, root: Path) -> None:
        self.path = root / STAMP_FILE
        self._map: mmap.mmap | None = None
        self._inode = 0
        self._reopen_at = 0.0

    def read(self, now: float) -> bytes:
        """The stamp as it is now (``now``: ``time.monotonic()``); empty when there is none
        yet, which tells the reader to check its file instead."""
        if now >= self._reopen_at:
            self._reopen(now)
        return self._map[:_SIZE] if self._map is not None else b""

    def advance(self) -> None:
        """Tell every reader that pages changed: call once the new files are in place."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(descriptor, secrets.token_bytes(_SIZE), 0)
        finally:
            os.close(descriptor)

    def _reopen(self, now: float) -> None:
        self._reopen_at = now + _REOPEN_SECONDS
        try:
            inode = os.stat(self.path).st_ino
        except OSError:
            inode = 0
        if self._map is not None and inode == self._inode:
            return  # the same file, still mapped
        self._close()
        if not inode:
            return
        try:
            with open(self.path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), _SIZE, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # gone again, or shorter than a stamp: check files
            return
        self._inode = inode

    def _close(self) -> None:
        if self._map is not None:
            self._map.close()  # read only by slicing (copies), so nothing holds its buffer
        self._map, self._inode = None, 0
