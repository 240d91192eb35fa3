"""The build worker: claim due jobs, run them, heartbeat, and report — through one interface.

``BuildQueue`` is everything a worker needs from the refinery. ``LocalBuildQueue`` talks to
the database directly (the django-q2 cluster, ``manage.py drain``); a remote worker
implements the same methods over HTTP, so this loop runs unchanged on an s390x machine.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import connection
from packaging.utils import canonicalize_name

from builds import follow_up_journal, repairs
from builds import queue as build_queue
from builds.artifacts import (
    TOO_RECENT,
    ArtifactError,
    FilenameTaken,
    LibrariesElsewhere,
    TargetTooOld,
    repair,
    repair_tools,
    store_wheel,
)
from builds.failure_classes import TailSink, missing_dependency, stated_cause
from builds.index.catalog import artifacts_for_pins
from builds.log_sink import DatabaseLogSink, LogSink
from builds.manifest import write_manifest
from builds.models import Artifact, BuildDependency, BuildJob
from builds.orphans import output_prefix
from builds.runners.base import BuildSpec, Runner, RunResult
from builds.wheel_upload import WheelUploadError, inspect_wheel
from hints.recipes import validate_recipes
from inputs.target_env import platform_arch
from plans.models import Plan, Target
from refinery.lib import follow_ups, log_context
from refinery.lib.coalescing_worker import CoalescingWorker
from refinery.lib.db_outage import TRANSIENT, outlasting_outages
from refinery.lib.pins import version_problem
from refinery.lib.state_machine import IllegalTransition
from refinery.lib.thread_connections import ThreadConnections

logger = logging.getLogger(__name__)
_TARGETS_KEPT_SECONDS = 5.0


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker knows about a job it holds: enough to build it, nothing more."""

    id: int
    attempt: int
    spec: BuildSpec
    target_python: str
    target_platform: str
    build_requires: list[str]


class BuildQueue(Protocol):
    def claim(self, worker_id: str, max_n: int) -> list[ClaimedJob]: ...

    def heartbeat(self, job_id: int, worker_id: str) -> str: ...

    def still_ours(self, job_id: int, worker_id: str) -> str:
        """A read, not a write: "ok" while this worker holds the job, else its status (an
        operator's cancel shows here within seconds, not at the next heartbeat)."""
        ...

    def start(self, job_id: int, worker_id: str) -> None: ...

    def complete(self, job_id: int, worker_id: str, message: str) -> None: ...

    def fail(
        self, job_id: int, worker_id: str, *, reason: str, error: str, runner: str = ""
    ) -> None:
        """Report a failed attempt. ``runner`` names the runner whose build failed (local or
        podman: what a repair may ask of it); empty when the failure came after the build,
        which no repair can help."""
        ...

    def release(self, job_id: int, worker_id: str) -> None: ...

    def follow_ups_in_background(self) -> AbstractContextManager[None]:
        """While open, what follows a recorded outcome is done off the build slots (nothing,
        where the refinery at the other end does it); closing finishes it."""
        ...

    def log_sink(self, job: ClaimedJob) -> LogSink: ...

    def store(self, job: ClaimedJob, wheel: Path, provenance: dict[str, Any]) -> str: ...

    def wheelhouse(self, job: ClaimedJob, directory: Path) -> list[str]:
        """Put our wheels of the job's build environment in ``directory``; returns the
        plan's ``name==version`` pins for that environment."""
        ...

    def discard_scratch(self, scratch: tempfile.TemporaryDirectory[str]) -> None:
        """Remove a build's scratch folder once the build is reported (now, or a moment
        later while follow-ups run in the background)."""
        ...


def _nodes_by_pin(plan: Plan) -> dict[tuple[str, str], dict[str, Any]]:
    return {(n["name"], n["version"]): n for n in plan.nodes()}


def build_environment(
    job_id: int, target: Target | None = None
) -> tuple[list[str], list[Artifact]]:
    """The job's build environment: its plan's ``name==version`` pins, and the wheels of
    them our store has for the job's target (DAG readiness says they are there; one that
    is not is fetched by pip at its pinned version). ``target``: the job's, when the
    caller holds it."""
    needs = list(BuildDependency.objects.filter(job_id=job_id).order_by("name"))
    if not needs:
        return [], []
    if target is None:
        target = Target.objects.get(build_jobs=job_id)
    stored = artifacts_for_pins(target, ((n.name, n.version) for n in needs))
    wheels = [
        found[0]
        for need in needs
        if (found := stored.get((canonicalize_name(need.name), need.version)))
    ]
    return [f"{need.name}=={need.version}" for need in needs], wheels


def _unbuildable(job: BuildJob, source: dict[str, Any]) -> str | None:
    """Why a claimed job cannot be handed to a runner as it is, or None. Recipes are checked
    again here: the rules may have tightened since they were stored."""
    if not source.get("url"):
        return "no sdist recorded in its plan"
    try:
        validate_recipes(job.recipes)
    except ValidationError as exc:
        return f"its recipes are refused: {exc.messages[0]}"
    return version_problem(job.version)


class LocalBuildQueue:
    """The build queue in this refinery's own database.

    ``arches`` limits claims to targets of those machine architectures (what the runner
    can build: the host's for the local runner); None claims for any target.
    """

    def __init__(self, arches: list[str] | None = None) -> None:
        self.arches = arches
        self._manifests: CoalescingWorker[int, int] | None = None
        self._follow_ups: follow_ups.FollowUps | None = None
        # The jobs this queue's claims handed out, as claimed (with their target) and moved
        # since, until reported: starting, storing and completing read no row again for
        # them (each move is a guarded update, refused if the row changed meanwhile).
        self._claimed: dict[int, BuildJob] = {}
        # While a drain runs: its buildable targets (read every few seconds), and the nodes
        # of the plans it claimed from (a node's source and build requirements never change;
        # reading and decoding a whole plan for every job of it grew with its size).
        self._targets: tuple[float, dict[int, Target]] | None = None
        self._plans: dict[int, dict[tuple[str, str], dict[str, Any]]] = {}

    @contextmanager
    def follow_ups_in_background(self) -> Iterator[None]:
        """While open, a plan's manifest is rewritten by a thread of its own, not by the
        build that ended: the slot takes its next job at once, endings that come together
        rewrite it once, and two rewrites of one manifest never race (they did: one could
        delete the file the other had just saved). A stored wheel's index pages and an
        ended job's input outcome follow the same way, a fifth of a second later (by then
        the slot's next build runs). Closing does what is still due; a journal on disk
        lets the reaper redo it if this process dies first (``follow_up_journal``)."""
        with (
            follow_up_journal.journal(("manifests", "follow-ups")) as kept,
            CoalescingWorker(
                _write_plan_manifest,
                name="manifests",
                settle=0.5,
                on_idle=lambda moment: kept.settled("manifests", moment),
            ) as manifests,
            follow_ups.background(
                "follow-ups", settle=0.2, on_idle=lambda moment: kept.settled("follow-ups", moment)
            ) as later,
        ):
            self._manifests, self._follow_ups = manifests, later
            try:
                yield
            finally:
                self._manifests = self._follow_ups = self._targets = None
                self._plans = {}

    def _buildable_targets(self) -> dict[int, Target] | None:
        """The targets of ``arches`` (None: any). A drain reads them again every few
        seconds, not at every claim: a target added meanwhile is claimed for within that
        (a drain polls every two), and one with no target yet reads at every claim."""
        if self.arches is None:
            return None
        now = time.monotonic()
        if self._targets is not None and now - self._targets[0] < _TARGETS_KEPT_SECONDS:
            return self._targets[1]
        arches = self.arches
        buildable = {
            t.pk: t for t in Target.objects.all() if platform_arch(t.platform_tag) in arches
        }
        if buildable and self._follow_ups is not None:  # a drain is under way
            self._targets = (now, buildable)
        return buildable

    def _node(self, job: BuildJob) -> dict[str, Any]:
        nodes = self._plans.get(job.plan_id) if job.plan_id is not None else None
        if nodes is None:
            plan = job.plan
            if plan is None:
                return {}
            nodes = _nodes_by_pin(plan)
            if self._follow_ups is not None:  # a drain is under way
                self._plans[plan.pk] = nodes
        return nodes.get((job.name, job.version), {})

    def claim(self, worker_id: str, max_n: int) -> list[ClaimedJob]:
        targets = self._buildable_targets()
        if targets == {}:
            return []
        claimed = []
        target_ids = None if targets is None else list(targets)
        for job in build_queue.claim(worker_id, max_n, target_ids=target_ids):
            if targets is None:
                job = BuildJob.objects.select_related("plan", "target").get(pk=job.pk)
            else:  # the claim read the job's row; its target is one of these
                job.target = targets[job.target_id]
            node = self._node(job)
            source = (
                node.get("source", {})
                if node.get("source", {}).get("kind") == "sdist"
                else node.get("sdist", {})
            )
            problem = _unbuildable(job, source)
            if problem is None:
                prepared = repairs.before_attempt(job, worker_id)
                if prepared is None:
                    continue  # a known failure: skipped, not built
                job = prepared
            if problem is not None:
                build_queue.fail(
                    job.pk,
                    worker_id,
                    reason=BuildJob.FailureReason.BUILD_ERROR,
                    error=f"{job.name}=={job.version}: {problem}",
                    retryable=False,
                )
                continue
            self._claimed[job.pk] = job
            claimed.append(
                ClaimedJob(
                    id=job.pk,
                    attempt=job.attempts,
                    spec=BuildSpec(
                        job_id=job.pk,
                        name=job.name,
                        version=job.version,
                        python_tag=job.target.python_tag,
                        platform_tag=job.target.platform_tag,
                        sdist_url=source["url"],
                        sdist_sha256=source["sha256"],
                        recipes=list(job.recipes),
                        index_urls=[settings.INDEX_URL, *settings.EXTRA_INDEX_URL],
                    ),
                    target_python=job.target.python_version,
                    target_platform=job.target.platform_tag,
                    build_requires=list(node.get("build_requires", [])),
                )
            )
        return claimed

    def heartbeat(self, job_id: int, worker_id: str) -> str:
        """ "ok" while this worker holds the job, else the job's status (e.g. cancelled)."""
        try:
            build_queue.heartbeat(job_id, worker_id)
        except build_queue.QueueError:
            return (
                BuildJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
                or "gone"
            )
        return "ok"

    def still_ours(self, job_id: int, worker_id: str) -> str:
        row = BuildJob.objects.filter(pk=job_id).values_list("status", "lease_owner").first()
        if row is None:
            return "gone"
        status, owner = row
        return "ok" if status in BuildJob.LEASED_STATUSES and owner == worker_id else status

    def start(self, job_id: int, worker_id: str) -> None:
        held = self._claimed.get(job_id)
        started = outlasting_outages(
            lambda: build_queue.start_building(job_id, worker_id, held=held),
            what=f"job {job_id}: start",
        )
        if held is not None:
            self._claimed[job_id] = started

    def complete(self, job_id: int, worker_id: str, message: str) -> None:
        held = self._claimed.pop(job_id, None)
        what = f"job {job_id}: complete"
        with follow_ups.handed_to(self._follow_ups):
            job = outlasting_outages(
                lambda: build_queue.complete(job_id, worker_id, message=message, held=held),
                what=what,
            )
        _after_report(
            job_id,
            "learning from the success",
            lambda: outlasting_outages(lambda: repairs.after_success(job), what=what),
        )
        self._refresh_manifest(job)

    def fail(
        self, job_id: int, worker_id: str, *, reason: str, error: str, runner: str = ""
    ) -> None:
        self._claimed.pop(job_id, None)
        with follow_ups.handed_to(self._follow_ups):
            self._fail(job_id, worker_id, reason=reason, error=error, runner=runner)

    def _fail(self, job_id: int, worker_id: str, *, reason: str, error: str, runner: str) -> None:
        what = f"job {job_id}: fail"
        repaired = (
            outlasting_outages(
                lambda: repairs.after_failure(
                    job_id, worker_id, reason=reason, error=error, runner=runner
                ),
                what=what,
            )
            if runner
            else None
        )
        if repaired is not None:
            self._refresh_manifest(repaired)
            return
        options: dict[str, Any] = {}
        if reason == BuildJob.FailureReason.TARGET_TOO_OLD:  # no retry changes a C library
            options = {"retryable": False}
        elif reason == BuildJob.FailureReason.INFRASTRUCTURE:
            options = {"count_attempt": False}
        elif reason == BuildJob.FailureReason.SYSTEM_RECIPE:
            options = {"final_status": BuildJob.Status.SYSTEM_RECIPE_FAILED}
        job = outlasting_outages(
            lambda: build_queue.fail(job_id, worker_id, reason=reason, error=error, **options),
            what=what,
        )
        self._refresh_manifest(job)

    def _refresh_manifest(self, job: BuildJob) -> None:
        if job.plan_id is None:
            return
        if self._manifests is not None:
            self._manifests.ask(job.plan_id, job.pk)
        else:
            _write_plan_manifest(job.plan_id, job.pk)

    def wheelhouse(self, job: ClaimedJob, directory: Path) -> list[str]:
        directory.mkdir(parents=True, exist_ok=True)
        held = self._claimed.get(job.id)
        pins, wheels = build_environment(job.id, held.target if held is not None else None)
        for wheel in wheels:
            with (
                default_storage.open(wheel.storage_key) as source,
                (directory / wheel.filename).open("wb") as out,
            ):
                shutil.copyfileobj(source, out, 1 << 20)
        return pins

    def release(self, job_id: int, worker_id: str) -> None:
        self._claimed.pop(job_id, None)
        outlasting_outages(
            lambda: build_queue.release(job_id, worker_id), what=f"job {job_id}: release"
        )

    def log_sink(self, job: ClaimedJob) -> LogSink:
        return outlasting_outages(
            lambda: DatabaseLogSink(job.id, job.attempt), what=f"job {job.id}: log"
        )

    def discard_scratch(self, scratch: tempfile.TemporaryDirectory[str]) -> None:
        # Removing a build's folder took 1-4 ms of the slot's time between two builds
        # (measured): in a drain, the follow-ups thread does it while the next one runs.
        with follow_ups.handed_to(self._follow_ups):
            follow_ups.soon(("scratch", scratch.name), scratch.cleanup)

    def store(self, job: ClaimedJob, wheel: Path, provenance: dict[str, Any]) -> str:
        with follow_ups.handed_to(self._follow_ups):
            return outlasting_outages(
                lambda: self._store(job, wheel, provenance), what=f"job {job.id}: store"
            )

    def _store(self, job: ClaimedJob, wheel: Path, provenance: dict[str, Any]) -> str:
        model = self._claimed.get(job.id)
        if model is None:  # claimed through another queue (a remote worker's, by the API)
            model = BuildJob.objects.select_related("target").get(pk=job.id)
        artifact: Artifact = store_wheel(
            wheel,
            target=model.target,
            origin=Artifact.Origin.BUILT,
            name=model.name,
            version=model.version,
            job=model,
            provenance=with_recipe_origins(provenance, model),
        )
        return artifact.sha256


def _write_plan_manifest(plan_id: int, job_id: int) -> None:
    """Rewrite a plan's manifest after ``job_id``'s outcome (a failure is logged, naming it)."""
    _after_report(
        job_id,
        f"writing plan {plan_id}'s manifest",
        lambda: outlasting_outages(
            lambda: write_manifest(Plan.objects.select_related("target").get(pk=plan_id)),
            what=f"plan {plan_id}: manifest",
        ),
    )


def _after_report(job_id: int, what: str, step: Callable[[], object]) -> None:
    """A step taken once the job's outcome is recorded. Its failure is logged, not raised:
    raised, it reached the worker's error path, which tried to fail a job already final
    (refused) and logged that instead of the cause."""
    try:
        step()
    except Exception:
        logger.exception("job %s: its outcome is recorded, but %s failed", job_id, what)


class _Heartbeat(threading.Thread):
    """Extends the lease while the build runs (every ``every`` seconds), and between beats
    looks every ``check_every`` seconds whether the job is still ours, so an operator's
    cancel stops the build within seconds."""

    def __init__(
        self, queue: BuildQueue, job_id: int, worker_id: str, every: float, check_every: float
    ) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.queue, self.job_id, self.worker_id, self.every = queue, job_id, worker_id, every
        self.check_every = min(check_every, every)
        self.stopped = threading.Event()
        self.lost = ""

    def run(self) -> None:
        next_beat = time.monotonic() + self.every
        try:
            while not self.stopped.wait(self.check_every):
                try:
                    if time.monotonic() >= next_beat:
                        state = self.queue.heartbeat(self.job_id, self.worker_id)
                        next_beat = time.monotonic() + self.every
                    else:
                        state = self.queue.still_ours(self.job_id, self.worker_id)
                except TRANSIENT as exc:
                    # The database is away: the build goes on, and so do the beats once it
                    # is back (on a fresh connection), well within the lease.
                    logger.warning("job %s: heartbeat missed: %s", self.job_id, exc)
                    connection.close()
                    continue
                if state != "ok":
                    self.lost = state
                    return
        finally:
            connection.close()


def build_one(
    queue: BuildQueue, runner: Runner, job: ClaimedJob, worker_id: str, *, stop: threading.Event
) -> str:
    """Build one claimed job and report the outcome; returns a one-line summary."""
    sink = TailSink(queue.log_sink(job))
    beat = _Heartbeat(
        queue,
        job.id,
        worker_id,
        every=max(1.0, settings.BUILD_LEASE_SEC / 3),
        check_every=settings.CANCEL_CHECK_SEC,
    )
    try:
        queue.start(job.id, worker_id)
        beat.start()
        scratch = tempfile.TemporaryDirectory(prefix=output_prefix(job.id))
        output = Path(scratch.name)
        try:
            try:
                pins = queue.wheelhouse(job, output / "wheelhouse")
            except OSError as exc:  # storage trouble is ours, not the package's
                sink.write(f"worker: could not gather the build environment's wheels: {exc}")
                queue.fail(
                    job.id, worker_id, reason=BuildJob.FailureReason.INFRASTRUCTURE, error=str(exc)
                )
                return f"job {job.id}: infrastructure ({exc})"
            spec = replace(job.spec, wheelhouse=output / "wheelhouse", constraints=tuple(pins))
            result: RunResult = runner.run(
                spec,
                output / "wheels",
                sink,
                cancelled=lambda: bool(beat.lost) or stop.is_set(),
            )
            beat.stopped.set()
            if result.reason == BuildJob.FailureReason.CANCELLED:
                if beat.lost:
                    sink.write(f"worker: stopped, the job is now {beat.lost}")
                    return f"job {job.id}: stopped ({beat.lost})"
                queue.release(job.id, worker_id)  # shutting down: give it back unbuilt
                return f"job {job.id}: released on shutdown"
            if not result.ok:
                return _report_failure(queue, job, worker_id, runner, result, sink)
            built = _BuiltJob(job, spec, runner, result, pins, output)
            return _store_wheels(queue, built, worker_id, sink, lost=lambda: bool(beat.lost))
        finally:
            queue.discard_scratch(scratch)
    finally:
        beat.stopped.set()
        sink.close()


def _report_failure(
    queue: BuildQueue,
    job: ClaimedJob,
    worker_id: str,
    runner: Runner,
    result: RunResult,
    sink: TailSink,
) -> str:
    """A failed run, reported with the most telling reason the log gives."""
    reason, error = result.reason, result.detail or result.reason
    cause = stated_cause(sink.lines)
    repairable = runner.name if result.repairable else ""
    if cause is not None:
        # The build script stopped by itself (a download, a package manager, a hash):
        # "download failed (…)" says more than "exit code 67", and it is nothing a repair
        # of the package's build could fix.
        error, repairable = f"{cause} ({error})", ""
    elif reason == BuildJob.FailureReason.BUILD_ERROR:
        missing = missing_dependency(sink.lines)
        if missing is not None:
            reason, error = BuildJob.FailureReason.MISSING_BUILD_DEPENDENCY, missing
    sink.close()  # the whole log is stored before anyone reads it for a repair
    queue.fail(job.id, worker_id, reason=reason, error=error, runner=repairable)
    return f"job {job.id}: {reason} ({error})"


@dataclass(frozen=True)
class _BuiltJob:
    """What a successful run leaves for storing: the job, what it ran, where."""

    job: ClaimedJob
    spec: BuildSpec
    runner: Runner
    result: RunResult
    pins: list[str]
    output: Path


def _store_wheels(
    queue: BuildQueue, built: _BuiltJob, worker_id: str, sink: TailSink, *, lost: Callable[[], bool]
) -> str:
    """Check, repair and store each wheel of a successful run, then complete the job."""
    job = built.job
    stored = []
    for wheel in built.result.wheels:
        try:
            inspect_built_wheel(wheel)
            fixed = repaired(
                wheel, job, built.spec, built.runner, built.output, sink, cancelled=lost
            )
            provenance = _provenance(job, built.runner, built.result, built.pins)
            stored.append(queue.store(job, fixed, provenance))
        except FilenameTaken as exc:
            # One name, one file: the published one stands and serves this job too.
            sink.write(f"worker: {exc}; the published file is kept")
            stored.append(exc.published_sha256)
        except ArtifactError as exc:
            sink.write(f"worker: {exc}")
            sink.close()
            reason = (
                BuildJob.FailureReason.TARGET_TOO_OLD
                if isinstance(exc, TargetTooOld)
                else BuildJob.FailureReason.BUILD_ERROR
            )
            queue.fail(job.id, worker_id, reason=reason, error=str(exc))
            return f"job {job.id}: {reason} ({exc})"
    sink.close()  # the whole log is stored before the job is final
    queue.complete(job.id, worker_id, message=f"stored {', '.join(stored)}")
    return f"job {job.id}: built in {built.result.elapsed:.1f} s"


def inspect_built_wheel(wheel: Path) -> None:
    """A build's wheel gets the checks an upload gets before auditwheel unpacks it: the
    sdist that made it is untrusted (a zip bomb or a 60 MB METADATA is a build error)."""
    try:
        inspect_wheel(wheel)
    except WheelUploadError as exc:
        raise ArtifactError(str(exc)) from None


def repaired(
    wheel: Path,
    job: ClaimedJob,
    spec: BuildSpec,
    runner: Runner,
    output: Path,
    sink: TailSink,
    *,
    cancelled: Callable[[], bool],
) -> Path:
    """auditwheel on this host; in the target environment (the builder container) when the
    wheel links libraries only that environment has."""
    try:
        return repair(wheel, job.target_platform, output / "repaired", sink)
    except LibrariesElsewhere as exc:
        sink.write(f"worker: {exc}; repairing in the target environment")
    directory = output / f"repair-{wheel.stem}"
    (directory / "input").mkdir(parents=True)
    shutil.copyfile(wheel, directory / "input" / wheel.name)
    repair_spec = replace(
        spec,
        repair_wheel=f"input/{wheel.name}",
        repair_platform=job.target_platform,
        repair_tools=repair_tools(),
    )
    result = runner.run(repair_spec, directory, sink, cancelled=cancelled)
    if not result.ok and any(TOO_RECENT in line for line in sink.lines):
        raise TargetTooOld(wheel.name, job.target_platform)
    if not result.ok or len(result.wheels) != 1:
        raise ArtifactError(
            f"could not repair {wheel.name} in the target environment: "
            f"{result.detail or result.reason or 'no repaired wheel'}"
        )
    return result.wheels[0]


def with_recipe_origins(provenance: dict[str, Any], job: BuildJob) -> dict[str, Any]:
    """A wheel's provenance names where each recipe it was built with came from (a hint,
    a problem repair inferred, an operator): the job knows, the worker does not."""
    return {**provenance, "recipes": job.recipes, "recipe_origins": job.recipe_origins}


def _provenance(
    job: ClaimedJob, runner: Runner, result: RunResult, pins: list[str]
) -> dict[str, Any]:
    return {
        "sdist_url": job.spec.sdist_url,
        "sdist_sha256": job.spec.sdist_sha256,
        "runner": runner.name,
        "image": result.environment.get("image"),
        "image_id": result.environment.get("image_id"),
        "recipes": job.spec.recipes,
        "build_requires": job.build_requires,
        "build_environment": pins,
        "source_date_epoch": job.spec.source_date_epoch,
        "elapsed_seconds": round(result.elapsed, 2),
        "attempt": job.attempt,
    }


def drain(
    queue: BuildQueue,
    runner: Runner,
    worker_id: str,
    *,
    pool_size: int,
    max_jobs: int | None = None,
    once: bool = False,
    stop: threading.Event | None = None,
    stopping: threading.Event | None = None,
    progress: Callable[[str], None] | None = None,
    poll_seconds: float = 2.0,
) -> int:
    """Keep ``pool_size`` builds going until nothing is due and nothing runs.

    A slot is refilled as soon as its build ends (not when a whole round has), and while
    builds run the queue is polled, so a job whose build requirements just became
    available starts at once. ``once``: a single claim, then wait for those builds.
    ``stopping`` (a shutdown's start) ends the claims and lets running builds finish;
    ``stop`` ends them too (cancelled, handed back).
    """
    stop = stop or threading.Event()
    stopping = stopping or threading.Event()
    done = started = 0
    running: set[Future[str]] = set()
    claimed_once = False
    kept = ThreadConnections()
    # The pool is left (its builds ended) before the follow-ups close, and they before
    # the pool threads' connections are.
    with (
        closing(kept),
        queue.follow_ups_in_background(),
        ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="build") as pool,
    ):
        while True:
            room = pool_size - len(running)
            if max_jobs is not None:
                room = min(room, max_jobs - started)
            claiming = not (stop.is_set() or stopping.is_set() or (once and claimed_once))
            if room > 0 and claiming:
                claimed_once = True
                for job in queue.claim(worker_id, room):
                    build = (queue, runner, job, worker_id, stop, kept)
                    running.add(pool.submit(_build_in_thread, *build))
                    started += 1
            if not running:
                return done
            finished, running = wait(running, timeout=poll_seconds, return_when=FIRST_COMPLETED)
            for future in finished:
                done += 1
                if progress is not None:
                    progress(future.result())


def _build_in_thread(
    queue: BuildQueue,
    runner: Runner,
    job: ClaimedJob,
    worker_id: str,
    stop: threading.Event,
    kept: ThreadConnections,
) -> str:
    with kept.task():
        return _build_reporting_errors(queue, runner, job, worker_id, stop)


def _build_reporting_errors(
    queue: BuildQueue, runner: Runner, job: ClaimedJob, worker_id: str, stop: threading.Event
) -> str:
    try:
        # Every line this thread logs names the job, in this process and (through its
        # reports) in the web server's log.
        with log_context.bound_job(job.id):
            return build_one(queue, runner, job, worker_id, stop=stop)
    except (IllegalTransition, build_queue.QueueError) as exc:
        # Cancelled or re-leased while the build finished: the job's row decides, not us.
        return f"job {job.id}: not reported, it changed meanwhile ({exc})"
    except Exception as exc:  # a worker bug must not kill the loop
        logger.exception("job %s: worker error", job.id)
        # Give the job back as a failed attempt (retried with backoff) rather than leave it
        # leased until the lease runs out; if even that fails, the lease reaper recovers.
        try:
            queue.fail(
                job.id,
                worker_id,
                reason=BuildJob.FailureReason.INFRASTRUCTURE,
                error=f"worker error: {exc}",
            )
        except Exception:
            logger.warning("job %s: could not report the worker error", job.id, exc_info=True)
        return f"job {job.id}: worker error {exc}"
