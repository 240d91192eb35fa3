"""The durable build queue (the seeds' ``build_status``) and its event timeline."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from builds.failure_reasons import FailureReason
from hints.recipes import validate_recipes
from inputs.priority import Priority
from plans.models import Plan, Target
from refinery.lib.state_machine import Transitions, statuses_leading_to, transition


def default_max_attempts() -> int:
    return 1 + settings.MAX_REQUEUE_ATTEMPTS


class BuildJob(models.Model):
    """One ``name==version`` wheel to produce for one target.

    ``status`` says where the job is; ``failure_reason`` and ``error`` say why it
    is there, so a retried job keeps the reason of its last failure.

    Status transitions (anything else raises ``IllegalTransition``):

    - pending -> leased                       a worker claimed it (attempts + 1)
    - pending -> cached | reused              the wheel already exists; nothing to build
    - pending | retry -> missing              a build requirement failed, so it cannot be built
    - pending | retry -> skipped_known_failure   a hint marks this package as known to fail
    - retry -> leased                         claimed again once ``next_attempt_at`` is due
    - leased -> building                      the runner started the container
    - leased | building -> built              the wheel is stored
    - leased | building -> retry              failed (or the lease expired) with attempts left,
                                              or a repair round with new recipes (at once)
    - leased | building -> failed             failed with no attempt left
    - leased | building -> system_recipe_failed | skipped_known_failure
    - leased | building -> pending            the worker released it on shutdown (attempt refunded)
    - pending | leased | building | retry -> cancelled   an operator cancelled it
    - failed | cancelled | missing | system_recipe_failed | skipped_known_failure -> pending
                                              an operator retried it (attempts reset)
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        LEASED = "leased"
        BUILDING = "building"
        RETRY = "retry"
        BUILT = "built"
        FAILED = "failed"
        CACHED = "cached"
        REUSED = "reused"
        MISSING = "missing"
        SKIPPED_KNOWN_FAILURE = "skipped_known_failure"
        SYSTEM_RECIPE_FAILED = "system_recipe_failed"
        CANCELLED = "cancelled"

    FailureReason = FailureReason

    S = Status
    # Where a job holding a lease may go, whether or not its container has started.
    _RUNNING_EXITS = frozenset(
        {
            S.BUILT,
            S.RETRY,
            S.FAILED,
            S.SYSTEM_RECIPE_FAILED,
            S.SKIPPED_KNOWN_FAILURE,
            S.PENDING,
            S.CANCELLED,
        }
    )
    TRANSITIONS: ClassVar[Transitions] = {
        S.PENDING: frozenset(
            {S.LEASED, S.CACHED, S.REUSED, S.MISSING, S.SKIPPED_KNOWN_FAILURE, S.CANCELLED}
        ),
        S.RETRY: frozenset({S.LEASED, S.MISSING, S.SKIPPED_KNOWN_FAILURE, S.CANCELLED}),
        S.LEASED: _RUNNING_EXITS | {S.BUILDING},
        S.BUILDING: _RUNNING_EXITS,
        S.BUILT: frozenset(),
        S.CACHED: frozenset(),
        S.REUSED: frozenset(),
        S.FAILED: frozenset({S.PENDING}),
        S.CANCELLED: frozenset({S.PENDING}),
        S.MISSING: frozenset({S.PENDING}),
        S.SYSTEM_RECIPE_FAILED: frozenset({S.PENDING}),
        S.SKIPPED_KNOWN_FAILURE: frozenset({S.PENDING}),
    }
    # Whatever the state machine lets become leased is what a claim may take.
    CLAIMABLE: ClassVar[tuple[str, ...]] = statuses_leading_to(TRANSITIONS, S.LEASED)
    LEASED_STATUSES: ClassVar[tuple[str, ...]] = (S.LEASED, S.BUILDING)
    ACTIVE: ClassVar[tuple[str, ...]] = (S.PENDING, S.LEASED, S.BUILDING, S.RETRY)
    SUCCEEDED: ClassVar[tuple[str, ...]] = (S.BUILT, S.CACHED, S.REUSED)

    name = models.CharField(max_length=200, help_text="Normalized project name (PEP 503).")
    version = models.CharField(max_length=100)
    plan = models.ForeignKey(
        Plan, on_delete=models.SET_NULL, null=True, blank=True, related_name="build_jobs"
    )
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="build_jobs")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    critical_path_ms = models.PositiveIntegerField(
        default=0,
        help_text="Expected time from this build's start to the end of the longest chain of "
        "its plan's builds that wait for it (its own included), from earlier build times: "
        "among jobs of equal priority queued together, the longest is claimed first.",
    )

    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=default_max_attempts)
    next_attempt_at = models.DateTimeField(help_text="Not claimable before this time.")
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    recipes = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_recipes],
        help_text="Recipes applied to the build.",
    )
    recipe_origins = models.JSONField(
        default=list,
        blank=True,
        help_text="Where each recipe came from: a hint, an inferred problem, an operator.",
    )
    repair_rounds = models.PositiveSmallIntegerField(
        default=0, help_text="Attempts requeued with inferred recipes (apart from retries)."
    )
    failure_reason = models.CharField(
        max_length=32, choices=FailureReason.choices, default=FailureReason.NONE, blank=True
    )
    error = models.TextField(blank=True)

    enqueued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    duration = models.DurationField(null=True, blank=True, help_text="Last attempt's build time.")
    regressed_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The earlier job that built this package (this version or an earlier "
        "one) when this one failed: a regression.",
    )

    class Meta:
        ordering = ["-enqueued_at", "-id"]
        constraints = [
            # Two live jobs for the same wheel would build it twice and race on storage.
            models.UniqueConstraint(
                fields=["name", "version", "target"],
                condition=Q(status__in=["pending", "leased", "building", "retry"]),
                name="buildjob_one_active_per_target",
            ),
            models.CheckConstraint(
                condition=Q(attempts__lte=models.F("max_attempts")),
                name="buildjob_attempts_within_max",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=Priority.LOW, priority__lte=Priority.CRITICAL),
                name="buildjob_priority_in_range",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status__in=["leased", "building"], lease_expires_at__isnull=False)
                    & ~Q(lease_owner="")
                )
                | (
                    ~Q(status__in=["leased", "building"])
                    & Q(lease_owner="", lease_expires_at__isnull=True)
                ),
                name="buildjob_lease_iff_leased",
            ),
        ]
        indexes = [
            # claim(): claimable rows by priority DESC, enqueued_at, critical_path_ms DESC, id
            # (FOR UPDATE SKIP LOCKED).
            models.Index(
                fields=["-priority", "enqueued_at", "-critical_path_ms", "id"],
                name="buildjob_claim_idx",
                condition=Q(status__in=["pending", "retry"]),
            ),
            # reap_expired_leases(): leased/building rows whose lease_expires_at has passed.
            models.Index(
                fields=["lease_expires_at"],
                name="buildjob_lease_expiry_idx",
                condition=Q(status__in=["leased", "building"]),
            ),
            # Statistics: built/failed in the last 24 h (status = … AND finished_at >= …).
            models.Index(fields=["status", "finished_at"], name="buildjob_status_finished_idx"),
            # Package view and log lookups: all jobs of name==version.
            models.Index(fields=["name", "version"], name="buildjob_name_version_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name}=={self.version} [{self.target}] {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status not in self.ACTIVE

    def transition_to(
        self, target: str, *, lease_owner_must_be: str | None = None, **changes: Any
    ) -> None:
        extra = None if lease_owner_must_be is None else {"lease_owner": lease_owner_must_be}
        transition(self, self.TRANSITIONS, target, extra_filter=extra, **changes)


class BuildEvent(models.Model):
    """One entry in a job's timeline: a status change, a worker report or a note."""

    class Kind(models.TextChoices):
        TRANSITION = "transition"
        REPORT = "report"
        NOTE = "note"

    job = models.ForeignKey(BuildJob, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TRANSITION)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    actor = models.CharField(max_length=200, blank=True, help_text="Worker id or user name.")
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # Package view: one job's timeline in order.
            models.Index(fields=["job", "created_at", "id"], name="buildevent_job_timeline_idx"),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.TRANSITION:
            return f"{self.from_status} -> {self.to_status}"
        return f"{self.kind}: {self.message[:60]}"


class LogChunk(models.Model):
    """A batch of a build's output lines, numbered so readers can ask for what is new."""

    job = models.ForeignKey(BuildJob, on_delete=models.CASCADE, related_name="log_chunks")
    attempt = models.PositiveIntegerField()
    seq = models.PositiveIntegerField(help_text="0, 1, 2 … within the attempt")
    text = models.TextField()
    size = models.PositiveIntegerField(default=0, help_text="UTF-8 bytes of text")
    # Lines are numbered over the job's whole log (every attempt, in order), so a reader
    # can resume at line K (the websocket's ``since``) with no gap and no repeat.
    first_line = models.PositiveIntegerField(default=0, help_text="index of the first line")
    lines = models.PositiveIntegerField(default=0, help_text="lines in this chunk")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["job_id", "attempt", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "attempt", "seq"], name="logchunk_unique_seq_per_attempt"
            ),
            # Two chunks never claim the same lines of a job's log.
            models.UniqueConstraint(fields=["job", "first_line"], name="logchunk_unique_lines"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} attempt {self.attempt} chunk {self.seq}"


class Artifact(models.Model):
    """A wheel in our store, content-addressed by its sha256, under a file name that is
    never reused for other bytes."""

    class Origin(models.TextChoices):
        BUILT = "built"
        REUSED = "reused", "reused (downloaded from upstream)"
        UPLOADED = "uploaded"

    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="artifacts")
    job = models.ForeignKey(
        BuildJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="artifacts"
    )
    origin = models.CharField(max_length=16, choices=Origin.choices)
    name = models.CharField(max_length=200, help_text="Normalized project name.")
    version = models.CharField(max_length=100)
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    tags = models.JSONField(
        default=list, help_text="Wheel tags, e.g. cp311-cp311-manylinux_2_17_s390x"
    )
    core_metadata = models.TextField(help_text="The wheel's METADATA file (served for PEP 658).")
    requires_python = models.CharField(max_length=200, blank=True)
    metadata_sha256 = models.CharField(
        max_length=64, help_text="sha256 of the METADATA bytes (PEP 658 core-metadata hash)."
    )
    storage_key = models.CharField(max_length=300)
    provenance = models.JSONField(default=dict, blank=True)
    uploaded_at = models.DateTimeField()
    yanked = models.BooleanField(default=False)
    yanked_reason = models.TextField(blank=True)
    yanked_at = models.DateTimeField(null=True, blank=True)
    reproducible = models.BooleanField(
        null=True, blank=True, help_text="Rebuilt from its provenance to the same bytes?"
    )
    reproduced_at = models.DateTimeField(null=True, blank=True)
    reproduction = models.JSONField(
        default=dict, blank=True, help_text="The last rebuild: its hash, what differed."
    )

    class Meta:
        ordering = ["name", "version", "filename"]
        constraints = [
            models.UniqueConstraint(fields=["sha256"], name="artifact_unique_sha256"),
            # One name, one content, for good: every index shows every compatible artifact
            # whatever target it was made for, so the name is unique across the store.
            models.UniqueConstraint(fields=["filename"], name="artifact_unique_filename"),
        ]
        indexes = [
            # Simple index pages and "is it in our store?": a target's files of one project.
            models.Index(fields=["target", "name", "version"], name="artifact_project_idx"),
        ]

    def __str__(self) -> str:
        return self.filename

    def yank(self, reason: str) -> bool:
        """Mark yanked (PEP 592); False when it already was. A guarded update, so two
        operators yanking at once record one yank."""
        now = timezone.now()
        changed = Artifact.objects.filter(pk=self.pk, yanked=False).update(
            yanked=True, yanked_reason=reason, yanked_at=now
        )
        if changed:
            self.yanked, self.yanked_reason, self.yanked_at = True, reason, now
        return bool(changed)

    def unyank(self) -> bool:
        """Serve it again as a normal file; False when it was not yanked."""
        changed = Artifact.objects.filter(pk=self.pk, yanked=True).update(
            yanked=False, yanked_reason="", yanked_at=None
        )
        if changed:
            self.yanked, self.yanked_reason, self.yanked_at = False, "", None
        return bool(changed)


class BuildDependency(models.Model):
    """Something that must be available (built, reused or cached) for the job's target before
    the job can be claimed: a package of its build environment, by name and version."""

    job = models.ForeignKey(BuildJob, on_delete=models.CASCADE, related_name="needs")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "name", "version"], name="builddependency_unique_per_job"
            )
        ]
        indexes = [
            # Marking dependents missing: which jobs need name==version?
            models.Index(fields=["name", "version"], name="builddependency_needed_idx"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} needs {self.name}=={self.version}"


class BuilderImage(models.Model):
    """A builder image made offline for one architecture (``manage.py build_image``)."""

    preset = models.CharField(max_length=64)
    arch = models.CharField(max_length=16, help_text="Debian architecture: amd64, s390x, …")
    image = models.CharField(max_length=200, help_text="Podman image name")
    image_id = models.CharField(max_length=100)
    packages = models.JSONField(
        default=list, blank=True, help_text="Debian packages installed in the image."
    )
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["preset", "arch"], name="builderimage_one_per_arch")
        ]

    def __str__(self) -> str:
        return f"{self.image} ({self.arch})"


class Subscription(models.Model):
    """Someone to tell about events: a webhook (signed per Standard Webhooks) or an email
    address, for some event types, optionally one target and one package."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook"
        EMAIL = "email"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.URLField(max_length=2000, blank=True, help_text="Webhooks: http or https.")
    secret = models.CharField(
        max_length=200, blank=True, help_text="Webhooks: whsec_<base64>, the signing key."
    )
    email = models.EmailField(blank=True, help_text="Email: where to send.")
    events = models.JSONField(default=list, help_text="Event types, e.g. job.failed.")
    target = models.ForeignKey(
        Target,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Only events of this target (empty: all).",
    )
    package = models.CharField(
        max_length=200, blank=True, help_text="Only events of this package (empty: all)."
    )
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # One sender at a time per subscription, so its deliveries go out in order.
    sender_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="webhook") & ~Q(url="") & ~Q(secret=""))
                | (Q(kind="email") & ~Q(email="")),
                name="subscription_destination_for_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.url or self.email}"

    @property
    def destination(self) -> str:
        return self.url or self.email


class Notification(models.Model):
    """One event, recorded in the transaction that caused it (an outbox): its payload is
    what every subscriber receives, and ``message_id`` is the webhook-id (the same on
    every retry, so receivers can drop duplicates)."""

    message_id = models.CharField(max_length=64, unique=True)
    event = models.CharField(max_length=32)
    payload = models.JSONField()
    # input outcomes are told once per input and plan, however many jobs end it.
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    job = models.ForeignKey(
        BuildJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} {self.message_id}"


class Delivery(models.Model):
    """One notification to one subscriber, with its attempts.

    Status transitions: pending -> delivered | retrying | given_up;
    retrying -> delivered | retrying | given_up; any -> pending (redeliver).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RETRYING = "retrying"
        DELIVERED = "delivered"
        GIVEN_UP = "given_up"

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "subscription"], name="delivery_one_per_subscriber"
            )
        ]
        indexes = [
            # The sender: a subscription's due deliveries in order.
            models.Index(
                fields=["subscription", "next_attempt_at", "id"],
                name="delivery_due_idx",
                condition=Q(status__in=["pending", "retrying"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.notification.event} -> {self.subscription} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at a delivery: what was sent and what came back."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    request_headers = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error[:40]}"
