"""Repair in the build queue: what happens around a build that hints can help.

- After a failed attempt (a package failure, not infrastructure): the attempt's stored log
  goes to ``hints.repair.decide``, and its decision is applied here: requeue at once with
  new recipes (a repair round, recorded as an event with the problems, candidates and
  recipes), fail for good with ``no_repair_found`` and the problems listed, skip a known
  failure, or fall back to the usual retry.
- Before an attempt: package hints without a pattern (what the refinery learned) add their
  recipes up front; a package hint that skips ends the job ``skipped_known_failure``.
- After a success with recipes that repair or an operator chose: an ``auto`` hint for the
  package is saved (or updated), and every hint that contributed counts a success.
- When a hint is added or changed: failed jobs it would have helped go back in the queue.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from builds import queue as build_queue
from builds.images import MACHINE_TO_DEBIAN, PRESETS, image_packages
from builds.log_reader import attempt_tail
from builds.models import BuilderImage, BuildJob
from hints.contents import ContentsError, ContentsIndex, build_index
from hints.models import Hint
from hints.patterns import LineSearch, PatternError, compile_pattern
from hints.problems import TAIL_LINES
from hints.recipes import combine, skip_reason
from hints.repair import GIVE_UP, REPAIR, RUNNER_CANNOT, SKIP, JobFacts, count_hits, decide
from inputs.target_env import platform_arch
from refinery.lib.host_lock import host_lock
from refinery.lib.metrics import REPAIR_ROUNDS

logger = logging.getLogger(__name__)

Reason = BuildJob.FailureReason
# Package failures a repair can answer (infrastructure, timeouts and cancels cannot).
REPAIRABLE = (Reason.BUILD_ERROR, Reason.MISSING_BUILD_DEPENDENCY)
# How many failed jobs one changed hint may send back to the queue.
REQUEUE_LIMIT = 50


def index_path(preset: str, arch: str) -> Path:
    """Where ``manage.py contents_index`` keeps a preset's index for a Debian arch."""
    return Path(settings.CONTENTS_INDEX_DIR) / f"{preset}-{arch}.sqlite3"


@lru_cache(maxsize=8)
def _open_index(path: Path, mtime: float) -> ContentsIndex:
    return ContentsIndex(path)


def contents_index(preset: str, arch: str) -> ContentsIndex | None:
    """The preset's Contents index for ``arch``, built on first use (under a host lock, when
    ``CONTENTS_INDEX_AUTO_BUILD`` is on); None when there is none (repair then has only the
    catalog, and the job's error and ``doctor`` say what to run)."""
    path = index_path(preset, arch)
    if not path.exists() and settings.CONTENTS_INDEX_AUTO_BUILD:
        _build_on_first_use(preset, arch, path)
    try:
        return _open_index(path, path.stat().st_mtime)
    except (OSError, ContentsError):
        return None


def _build_on_first_use(preset: str, arch: str, path: Path) -> None:
    with host_lock(f"contents-index-{preset}-{arch}") as held:
        if not held or path.exists():
            return  # another worker is building it (or just did)
        spec = PRESETS[preset]
        logger.info("building the Contents index for %s/%s on first use", preset, arch)
        try:
            build_index(spec["mirror"], spec["suite"], arch, path)
        except ContentsError as exc:
            logger.warning("no Contents index for %s/%s: %s", preset, arch, exc)


def installed_packages(preset: str, arch: str) -> frozenset[str]:
    """Debian packages already in the builder image (never candidates). Read from the image
    once and kept on its record."""
    record = BuilderImage.objects.filter(preset=preset, arch=arch).first()
    if record is None:
        return frozenset()
    if not record.packages:
        record.packages = image_packages(record.image, arch)
        BuilderImage.objects.filter(pk=record.pk).update(packages=record.packages)
    return frozenset(record.packages)


def _debian_arch(job: BuildJob) -> str:
    machine = platform_arch(job.target.platform_tag)
    return MACHINE_TO_DEBIAN.get(machine, machine)


def after_failure(
    job_id: int, worker_id: str, *, reason: str, error: str, runner: str
) -> BuildJob | None:
    """Apply the repair decision for a failed attempt; None when it leaves the failure to
    the usual path (retry with backoff or fail)."""
    if reason not in REPAIRABLE:
        return None
    job = BuildJob.objects.select_related("target").get(pk=job_id)
    preset, arch = settings.CONTAINER_PRESET, _debian_arch(job)
    index = contents_index(preset, arch)
    facts = JobFacts(
        package=job.name,
        preset=preset,
        recipes=list(job.recipes),
        origins=list(job.recipe_origins),
        rounds_done=job.repair_rounds,
        max_rounds=settings.MAX_REPAIR_ROUNDS,
        can_install_system_packages=runner != "local",
        installed=installed_packages(preset, arch) if runner != "local" else frozenset(),
    )
    decision = decide(attempt_tail(job.pk, job.attempts, TAIL_LINES), facts, index)
    if index is None and decision.outcome != REPAIR:
        decision.message += (
            f" (no Contents index for {preset}/{arch}: run manage.py contents_index "
            f"--arch {arch} so repairs can find packages)"
        )
    data = decision.event_data()
    REPAIR_ROUNDS.labels(decision.outcome).inc()
    if decision.outcome == REPAIR:
        count_hits([origin["hint"] for origin in decision.origins if "hint" in origin])
        return build_queue.requeue_for_repair(
            job_id,
            worker_id,
            recipes=decision.recipes,
            origins=[{**origin, "round": job.repair_rounds + 1} for origin in decision.origins],
            error=decision.message,
            data=data,
        )
    if decision.outcome == SKIP:
        count_hits(decision.hints)
        return build_queue.fail(
            job_id,
            worker_id,
            reason=Reason.KNOWN_FAILURE,
            error=decision.message,
            final_status=BuildJob.Status.SKIPPED_KNOWN_FAILURE,
        )
    if decision.outcome in (GIVE_UP, RUNNER_CANNOT):
        return build_queue.fail(
            job_id,
            worker_id,
            reason=Reason.NO_REPAIR_FOUND if decision.outcome == GIVE_UP else reason,
            error=decision.message,
            retryable=False,
            data=data,
        )
    return None  # the network: retried as any failure is


def _package_hints(job: BuildJob, preset: str) -> list[Hint]:
    # Read at every claim: written out, it skips compiling the query (0.3 -> 0.06 ms).
    table = Hint._meta.db_table
    return list(
        Hint.objects.raw(
            f"SELECT * FROM {table} WHERE enabled AND scope = %s AND package = %s"
            " AND pattern = '' AND (preset = '' OR preset = %s) ORDER BY name",
            [Hint.Scope.PACKAGE, job.name, preset],
        )
    )


def before_attempt(job: BuildJob, worker_id: str) -> BuildJob | None:
    """Up-front recipes of the package's hints for a just-claimed job; None when a hint
    says the package is a known failure (the job is then skipped, not built)."""
    hints = _package_hints(job, settings.CONTAINER_PRESET)
    if not hints:
        return job
    skip = next((hint for hint in hints if skip_reason(hint.recipes)), None)
    if skip is not None:
        count_hits([skip.name])
        build_queue.fail(
            job.pk,
            worker_id,
            reason=Reason.KNOWN_FAILURE,
            error=f"known failure ({skip.name}): {skip_reason(skip.recipes)}",
            final_status=BuildJob.Status.SKIPPED_KNOWN_FAILURE,
            count_attempt=False,
        )
        return None
    fresh = [hint for hint in hints if combine(job.recipes, hint.recipes) != combine(job.recipes)]
    if not fresh:
        return job
    recipes = combine(job.recipes, *(hint.recipes for hint in fresh))
    count_hits([hint.name for hint in fresh])
    origins = [{"hint": hint.name, "recipes": hint.recipes, "up_front": True} for hint in fresh]
    return build_queue.add_recipes(
        job,
        recipes=recipes,
        origins=origins,
        actor=worker_id,
        message="recipes from " + ", ".join(hint.name for hint in fresh),
    )


def after_success(job: BuildJob) -> Hint | None:
    """Learn from a build that needed recipes: the package's ``auto`` hint gets them (its
    next build starts with them), and each hint that helped counts a success."""
    used = [origin["hint"] for origin in job.recipe_origins if "hint" in origin]
    if used:  # most builds used none: no statement to compile for them
        Hint.objects.filter(name__in=set(used), hit_count__gt=F("success_count")).update(
            success_count=F("success_count") + 1
        )
    # Recipes that were not there from the start: repair rounds, operators, re-queues.
    learned = [origin for origin in job.recipe_origins if not origin.get("up_front")]
    if not learned or not job.recipes:
        return None
    preset = settings.CONTAINER_PRESET
    name = f"auto: {job.name} ({preset})"[:200]
    hint, created = Hint.objects.get_or_create(
        name=name,
        defaults={
            "description": f"Learned from build job {job.pk} ({job.name}=={job.version}).",
            "scope": Hint.Scope.PACKAGE,
            "package": job.name,
            "preset": preset,
            "source": Hint.Source.AUTO,
            "recipes": job.recipes,
        },
    )
    if not created:
        Hint.objects.filter(pk=hint.pk).update(
            recipes=combine(hint.recipes, job.recipes),
            description=f"Learned from build jobs up to {job.pk} ({job.name}=={job.version}).",
            updated_at=timezone.now(),
        )
    return hint


def _matches_log(search: LineSearch, job: BuildJob) -> bool:
    return search.first(attempt_tail(job.pk, job.attempts, TAIL_LINES)) is not None


def requeue_for_hint(hint_id: int, *, actor: str = "hint") -> list[BuildJob]:
    """Failed jobs this hint would have helped, back in the queue with its recipes: the
    package's own (a package hint), or those whose last log its pattern matches. Bounded
    to the ``REQUEUE_LIMIT`` most recent."""
    hint = Hint.objects.filter(pk=hint_id, enabled=True).first()
    if hint is None or skip_reason(hint.recipes):
        return []
    failed = BuildJob.objects.filter(
        status=BuildJob.Status.FAILED,
        failure_reason__in=[*REPAIRABLE, Reason.NO_REPAIR_FOUND],
    ).order_by("-finished_at", "-pk")
    if hint.scope == Hint.Scope.PACKAGE:
        failed = failed.filter(name=hint.package)
    search = None
    if hint.pattern:
        try:
            search = LineSearch(compile_pattern(hint.pattern))
        except PatternError:
            return []
    requeued: list[BuildJob] = []
    for job in failed[: REQUEUE_LIMIT * 4]:
        if len(requeued) >= REQUEUE_LIMIT:
            break
        if search is not None and not _matches_log(search, job):
            continue
        recipes = combine(job.recipes, hint.recipes)
        if recipes == combine(job.recipes):
            continue
        try:
            requeued.append(
                build_queue.retry(
                    job,
                    actor=actor,
                    recipes=recipes,
                    origins=[{"hint": hint.name, "recipes": hint.recipes}],
                    message=f"re-queued for hint {hint.name}",
                )
            )
        except build_queue.QueueError as exc:
            logger.info("hint %s: job %s not re-queued: %s", hint.name, job.pk, exc)
    if requeued:
        Hint.objects.filter(pk=hint.pk).update(hit_count=F("hit_count") + len(requeued))
    return requeued


def retry_with_recipes(job: BuildJob, recipes: list[dict[str, Any]], *, actor: str) -> BuildJob:
    """An operator's retry with recipes of their choosing (learned from when it builds)."""
    return build_queue.retry(
        job,
        actor=actor,
        recipes=combine(recipes),
        origins=[{"operator": actor, "recipes": recipes}],
        message=f"retried by {actor} with recipes",
    )
