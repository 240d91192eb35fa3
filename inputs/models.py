"""Uploaded requirements files and wheels, and the plan queue they wait in."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from inputs.priority import Priority
from refinery.lib.signals import input_status_changed
from refinery.lib.state_machine import Transitions, transition


class PendingInput(models.Model):
    """An upload waiting to be planned (the seeds' ``pending_inputs``).

    Status transitions (anything else raises ``IllegalTransition``):

    - pending -> planning             enqueued to the plan queue (AUTO_PLAN, or an operator)
    - planning -> planned             the planner saved a plan and linked it
    - planning -> failed              planning failed; ``error`` says why
    - planned -> queued               every build node of the current plan was enqueued
    - planned -> build_queued         some nodes were enqueued one by one
    - build_queued -> queued          the rest of the plan was enqueued later
    - planned | queued | build_queued | failed -> planning   replan

    While ``planning``, ``lease_owner`` is empty when the input waits in the plan
    queue and names the plan worker once one has popped it; an expired lease puts
    it back in the queue (attempt counted) or fails it when attempts are spent.
    """

    class Kind(models.TextChoices):
        REQUIREMENTS = "requirements"
        WHEEL = "wheel"

    class Status(models.TextChoices):
        PENDING = "pending"
        PLANNING = "planning"
        PLANNED = "planned"
        QUEUED = "queued"
        BUILD_QUEUED = "build_queued"
        FAILED = "failed"

    TRANSITIONS: ClassVar[Transitions] = {
        Status.PENDING: frozenset({Status.PLANNING}),
        Status.PLANNING: frozenset({Status.PLANNED, Status.FAILED}),
        Status.PLANNED: frozenset({Status.QUEUED, Status.BUILD_QUEUED, Status.PLANNING}),
        Status.BUILD_QUEUED: frozenset({Status.QUEUED, Status.PLANNING}),
        Status.QUEUED: frozenset({Status.PLANNING}),
        Status.FAILED: frozenset({Status.PLANNING}),
    }

    kind = models.CharField(max_length=16, choices=Kind.choices)
    original_filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    storage_key = models.CharField(max_length=512)
    parsed = models.JSONField(
        default=dict, blank=True, help_text="The validated content (requirements, or wheel tags)."
    )
    python_version = models.CharField(max_length=16, help_text="Target Python, e.g. 3.11")
    platform_tag = models.CharField(
        max_length=64, help_text="Target platform, e.g. manylinux_2_17_s390x"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    error = models.TextField(blank=True)

    plan_queued_at = models.DateTimeField(null=True, blank=True)
    plan_attempts = models.PositiveIntegerField(default=0)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    plan_started_at = models.DateTimeField(null=True, blank=True)
    plan_finished_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # An identical re-upload for the same target is reported, not stored twice.
            models.UniqueConstraint(
                fields=["sha256", "python_version", "platform_tag"],
                name="pendinginput_unique_content_per_target",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=Priority.LOW, priority__lte=Priority.CRITICAL),
                name="pendinginput_priority_in_range",
            ),
            models.CheckConstraint(
                condition=Q(status="planning") | Q(lease_owner="", lease_expires_at__isnull=True),
                name="pendinginput_lease_only_while_planning",
            ),
        ]
        indexes = [
            # pop_for_planning(): queued, unleased inputs by priority DESC, plan_queued_at.
            models.Index(
                fields=["-priority", "plan_queued_at", "id"],
                name="pendinginput_plan_queue_idx",
                condition=Q(status="planning", lease_owner=""),
            ),
            # reap_expired_plan_leases(): leased inputs whose lease_expires_at has passed.
            models.Index(
                fields=["lease_expires_at"],
                name="pendinginput_lease_expiry_idx",
                condition=Q(status="planning") & ~Q(lease_owner=""),
            ),
            # Inputs page and plan-queue statistics: filter by status, newest first.
            models.Index(fields=["status", "-created_at"], name="pendinginput_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.kind}, {self.status})"

    def transition_to(
        self,
        target: str,
        *,
        extra_filter: dict[str, Any] | None = None,
        actor: str = "",
        message: str = "",
        **changes: Any,
    ) -> None:
        """A guarded status change and its event, in one transaction."""
        previous = self.status
        with transaction.atomic():
            transition(self, self.TRANSITIONS, target, extra_filter=extra_filter, **changes)
            InputEvent.objects.create(
                input=self,
                kind=InputEvent.Kind.TRANSITION,
                from_status=previous,
                to_status=target,
                actor=actor,
                message=(message or changes.get("error") or "")[:500],
                created_at=self.updated_at,
            )
        pk = self.pk
        transaction.on_commit(
            lambda: input_status_changed.send(sender=PendingInput, input_id=pk, status=target)
        )


class InputEvent(models.Model):
    """An input's trail, like a build job's: every status change, and every plan lease taken,
    given back or lost (the status stays ``planning`` through those, as the seeds define it:
    queued or being planned)."""

    class Kind(models.TextChoices):
        TRANSITION = "transition"
        LEASED = "leased"  # a planner took it from the queue
        RELEASED = "released"  # back in the queue: handed back, or its planner lost the lease

    input = models.ForeignKey(PendingInput, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    actor = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["input", "created_at"], name="inputevent_input_time_idx")]

    def __str__(self) -> str:
        return f"input {self.input_id}: {self.kind} {self.from_status}->{self.to_status}"


def record_lease_events(
    input_ids: list[int], kind: str, *, actor: str, message: str = "", at: Any = None
) -> None:
    """One lease event per input (the status stays planning)."""
    at = at or timezone.now()
    InputEvent.objects.bulk_create(
        InputEvent(
            input_id=input_id,
            kind=kind,
            from_status=PendingInput.Status.PLANNING,
            to_status=PendingInput.Status.PLANNING,
            actor=actor,
            message=message[:500],
            created_at=at,
        )
        for input_id in input_ids
    )
