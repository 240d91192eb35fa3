"""What a drain's follow-ups may have left undone, kept on disk so a killed drain's are
redone.

A drain hands a stored wheel's index pages, an ended job's input outcome, its plan's
manifest and the removal of its build's folder to background threads, a moment after the
change commits. Killed in that moment (kill -9, the machine's power), the process took
them with it: the wheel was in the store and its job built, but the index did not list it.
So while a drain runs it holds a journal file under ``VAR_DIR/follow-ups/``, locked (the
kernel lets go when the process dies, however it dies), holding the last moment by which
everything its threads were asked had been done. The reaper, every minute, takes each
journal whose holder is gone and redoes the follow-ups of every change since that moment
(they are idempotent: a page rendered again, an outcome told once per input and plan, a
manifest rewritten, the folders of a job no longer active removed).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings

from builds import orphans
from builds.index import publishing
from builds.manifest import write_manifest
from builds.models import Artifact, BuildJob
from builds.notifications import input_outcomes
from plans.models import Plan

logger = logging.getLogger(__name__)

# Changes are stamped (updated_at, uploaded_at) inside their transaction, before the commit
# that lets their follow-ups be asked for: redo from well before the journal's moment.
_MARGIN = timedelta(minutes=1)
# A journal whose moment cannot be read (the process died writing it): redo this much.
_UNREADABLE = timedelta(hours=1)


def journal_directory() -> Path:
    return Path(settings.VAR_DIR) / "follow-ups"


class Journal:
    """A drain's journal: each background thread reports when it has done all it was
    asked (``settled``); the file holds the earliest of their latest such moments."""

    def __init__(self, threads: tuple[str, ...]) -> None:
        directory = journal_directory()
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex}"
        self.path = directory / f"{name}.journal"
        # Locked and written under another name first: a reaper must never find it unlocked.
        making = directory / f"{name}.new"
        self._fd = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._lock = threading.Lock()
        started = datetime.now(UTC).timestamp()
        self._settled = dict.fromkeys(threads, started)
        self._write(started)
        os.rename(making, self.path)

    def settled(self, thread: str, moment: float) -> None:
        with self._lock:
            self._settled[thread] = moment
            self._write(min(self._settled.values()))

    def close(self) -> None:
        """Everything was done: the journal goes."""
        self.path.unlink(missing_ok=True)
        os.close(self._fd)

    def _write(self, moment: float) -> None:
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{moment:.6f}\n".encode(), 0)


@contextmanager
def journal(threads: tuple[str, ...]) -> Iterator[Journal]:
    """A journal while the block runs (close the threads inside it: they finish what is
    due as they close). Only a process that dies inside leaves it behind."""
    kept = Journal(threads)
    try:
        yield kept
    finally:
        kept.close()


@dataclass(frozen=True)
class Redone:
    journals: int = 0
    projects: int = 0
    jobs: int = 0
    plans: int = 0

    def __str__(self) -> str:
        return (
            f"{self.journals} journal(s) of gone drains: {self.projects} project page(s), "
            f"{self.jobs} job outcome(s), {self.plans} manifest(s) redone"
        )


def redo_lost_follow_ups() -> Redone:
    """Redo the follow-ups of every drain that is gone and left a journal."""
    directory = journal_directory()
    if not directory.is_dir():
        return Redone()
    _drop_unfinished(directory)
    since: datetime | None = None
    taken: list[Path] = []
    for path in sorted(directory.glob("*.journal")):
        moment = _moment_if_gone(path)
        if moment is not None:
            taken.append(path)
            since = moment if since is None else min(since, moment)
    if since is None:
        return Redone()
    redone = _redo_since(since - _MARGIN)
    for path in taken:
        path.unlink(missing_ok=True)
    return Redone(len(taken), *redone)


def _drop_unfinished(directory: Path) -> None:
    """Journals their drain died making (before any change of it): nothing to redo."""
    old = time.time() - _MARGIN.total_seconds()
    for path in directory.glob("*.new"):
        try:
            if path.stat().st_mtime < old and _read_if_gone(path) is not None:
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            continue


def _moment_if_gone(path: Path) -> datetime | None:
    """The journal's moment if its drain is gone (its lock is free), else None."""
    text = _read_if_gone(path)
    if text is None:
        return None
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError):
        logger.warning("%s: unreadable (%r); redoing the last %s", path, text, _UNREADABLE)
        return datetime.now(UTC) - _UNREADABLE


def _read_if_gone(path: Path) -> str | None:
    """What the file says if no process holds its lock; None while one does (or if the
    file went meanwhile: its drain ended well)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        return os.read(fd, 64).decode("ascii", "replace").strip()
    finally:
        os.close(fd)


def _redo_since(since: datetime) -> tuple[int, int, int]:
    """Each step as its drain would have taken it: a failure is logged, and the rest done."""
    names = sorted(
        set(Artifact.objects.filter(uploaded_at__gte=since).values_list("name", flat=True))
    )
    for name in names:
        _logged(f"index pages of {name}", publishing.refresh_project, name)
    ended = list(
        BuildJob.objects.filter(updated_at__gte=since)
        .exclude(status__in=BuildJob.ACTIVE)
        .values_list("pk", "plan_id")
    )
    _logged("input outcomes", input_outcomes.check_jobs, [job_id for job_id, _ in ended])
    # A build's folder is removed a moment after it is reported.
    _logged("scratch folders", orphans.remove_folders, [job_id for job_id, _ in ended])
    plan_ids = {plan_id for _, plan_id in ended if plan_id is not None}
    for plan in Plan.objects.filter(pk__in=plan_ids).select_related("target"):
        _logged(f"manifest of plan {plan.pk}", write_manifest, plan)
    return len(names), len(ended), len(plan_ids)


def _logged(what: str, step: Callable[[Any], object], argument: Any) -> None:
    try:
        step(argument)
    except Exception:
        logger.exception("redoing the %s failed", what)
