"""Pre-rendered simple pages on local disk, as PyPI and piwheels serve theirs.

``<INDEX_PAGES_DIR>/<target-slug>/<project>.html|.json`` (``_root`` for the project list).
Writers render under a per-target lock and replace files atomically, so a reader sees the old
page or the new one, never half of one, and two publishers cannot leave the older rendering
last. Readers keep recently served pages in memory, keyed by the file's identity (inode,
size, mtime): a replaced file is a new inode, so every process notices a publish at once.
Each publish also moves the store's ``PublishStamp``, which the fast path reads instead of
checking a file per request.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from builds.index.pages import RenderedPage
from builds.index.publish_stamp import PublishStamp
from builds.index.responses import CachedPage

ROOT_PAGE = "_root"  # not a normalized project name (those never contain "_")
_MEMORY_ENTRIES = 4096

_StatKey = tuple[int, int, int]


class PageStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = str(root)
        self._memory: OrderedDict[str, tuple[_StatKey, CachedPage]] = OrderedDict()
        self._memory_lock = threading.Lock()
        self.stamp = PublishStamp(root)

    def path(self, slug: str, project: str, kind: str) -> Path:
        return Path(self.file(slug, project, kind))

    def file(self, slug: str, project: str, kind: str) -> str:
        """The page's file name (a string: the index's hot path builds one per request)."""
        return f"{self._root}/{slug}/{project}.{kind}"

    def get(self, slug: str, project: str, kind: str) -> CachedPage | None:
        """The page as currently published, or None when there is none on disk."""
        path = self.file(slug, project, kind)
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._memory_lock:
            held = self._memory.get(path)
            if held is not None and held[0] == key:
                self._memory.move_to_end(path)
                return held[1]
        try:
            with open(path, "rb") as handle:
                body = handle.read()
        except OSError:  # replaced between stat and read: the caller re-renders or retries
            return None
        page = CachedPage.of(body, stat.st_mtime)
        with self._memory_lock:
            self._memory[path] = (key, page)
            self._memory.move_to_end(path)
            while len(self._memory) > _MEMORY_ENTRIES:
                self._memory.popitem(last=False)
        return page

    @contextmanager
    def locked(self, slug: str) -> Iterator[None]:
        """Serialize renderers of one target's pages (across processes on this host)."""
        directory = self.root / slug
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def put(self, slug: str, project: str, page: RenderedPage | None) -> None:
        """Publish (or, with None, withdraw) a page's two formats. Call under ``locked``;
        each file changed moves the stamp once it is in place."""
        bodies: dict[str, bytes | None] = {
            "html": page.html if page else None,
            "json": page.json if page else None,
        }
        for kind, body in bodies.items():
            path = self.path(slug, project, kind)
            if body is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    self.stamp.advance()
                continue
            try:
                if path.read_bytes() == body:
                    continue  # unchanged: keep its ETag and Last-Modified
                replaced: os.stat_result | None = os.stat(path)
            except OSError:
                replaced = None
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=path.parent, prefix=".tmp-", delete=False
            ) as handle:
                temporary = Path(handle.name)
                try:
                    handle.write(body)
                except BaseException:
                    temporary.unlink(missing_ok=True)
                    raise
            temporary.chmod(0o644)
            _newer_than(temporary, replaced)
            os.replace(temporary, path)
            self.stamp.advance()


def _newer_than(written: Path, replaced: os.stat_result | None) -> None:
    """A page's validators are its modification second and size (``CachedPage``): a new
    body written within the second of the one it replaces, at the same size, is dated one
    second later, so no client keeps the old page on a 304."""
    if replaced is None:
        return
    stat = os.stat(written)
    if stat.st_size == replaced.st_size and int(stat.st_mtime) <= int(replaced.st_mtime):
        later = int(replaced.st_mtime) + 1
        os.utime(written, (later, later))


_store: PageStore | None = None


def page_store() -> PageStore:
    """The process's store for ``INDEX_PAGES_DIR`` (tests that change the setting get a new one)."""
    global _store
    root = Path(settings.INDEX_PAGES_DIR)
    if _store is None or _store.root != root:
        _store = PageStore(root)
    return _store
