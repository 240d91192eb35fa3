"""Targets, plans (a resolved DAG for one target) and their links to inputs."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import Q

from inputs.models import PendingInput
from inputs.priority import Priority
from inputs.strategy import STRATEGY_CHOICES, Strategy
from refinery.lib.state_machine import Transitions, transition


class Target(models.Model):
    """A Python version and platform the refinery builds wheels for."""

    python_version = models.CharField(max_length=16, help_text="e.g. 3.11")
    platform_tag = models.CharField(max_length=64, help_text="e.g. manylinux_2_17_s390x")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["python_version", "platform_tag"]
        constraints = [
            models.UniqueConstraint(
                fields=["python_version", "platform_tag"], name="target_unique_python_platform"
            )
        ]

    def __str__(self) -> str:
        return f"cp{self.python_tag_digits}-{self.platform_tag}"

    @property
    def python_tag_digits(self) -> str:
        major, minor = self.python_version.split(".")[:2]
        return f"{major}{minor}"

    @property
    def python_tag(self) -> str:
        """The CPython interpreter tag, e.g. ``cp311``."""
        return f"cp{self.python_tag_digits}"


class Plan(models.Model):
    """A resolved build DAG for one target, saved by the planner.

    ``dag`` holds ``{"nodes": [...], "edges": [...]}``: each node is
    ``{"name", "version", "action": "build" | "reuse" | "cached", "source": {...}}``,
    each edge ``{"from": "name==version", "to": "name==version", "kind": "install" | "build"}``
    (``from`` needs ``to``). ``snapshot`` keeps what the plan was made from (the
    requirements, strategy, index settings and overrides) so it can be reproduced.

    Status transitions:

    - planned -> queued         every build node was enqueued
    - planned -> build_queued   some nodes were enqueued one by one
    - build_queued -> queued    the remaining nodes were enqueued
    """

    Strategy = Strategy

    class Status(models.TextChoices):
        PLANNED = "planned"
        BUILD_QUEUED = "build_queued"
        QUEUED = "queued"

    TRANSITIONS: ClassVar[Transitions] = {
        Status.PLANNED: frozenset({Status.QUEUED, Status.BUILD_QUEUED}),
        Status.BUILD_QUEUED: frozenset({Status.QUEUED}),
        Status.QUEUED: frozenset(),
    }

    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="plans")
    strategy = models.CharField(max_length=16, choices=STRATEGY_CHOICES)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    snapshot = models.JSONField(default=dict, blank=True)
    dag = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    inputs: models.ManyToManyField[PendingInput, PlanInput] = models.ManyToManyField(
        PendingInput, through="PlanInput", related_name="plans"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Plans page: filter by status, newest first.
            models.Index(fields=["status", "-created_at"], name="plan_status_idx"),
        ]

    def __str__(self) -> str:
        return f"plan {self.pk} for {self.target}"

    def transition_to(self, target: str, **changes: Any) -> None:
        transition(self, self.TRANSITIONS, target, **changes)

    def nodes(self) -> list[dict[str, Any]]:
        nodes = self.dag.get("nodes", []) if isinstance(self.dag, dict) else []
        return list(nodes)


class PlanInput(models.Model):
    """Links an input to a plan made from it (the seeds' ``plan_metadata``).

    Replanning an input adds a link with the next ``version`` and marks the
    previous link superseded, so the plan history of an input stays readable.

    Status transitions: current -> superseded.
    """

    class Status(models.TextChoices):
        CURRENT = "current"
        SUPERSEDED = "superseded"

    TRANSITIONS: ClassVar[Transitions] = {
        Status.CURRENT: frozenset({Status.SUPERSEDED}),
        Status.SUPERSEDED: frozenset(),
    }

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="input_links")
    input = models.ForeignKey(PendingInput, on_delete=models.CASCADE, related_name="plan_links")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CURRENT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["input_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["input", "version"], name="planinput_unique_version"),
            models.UniqueConstraint(
                fields=["input"],
                condition=Q(status="current"),
                name="planinput_one_current_per_input",
            ),
            models.UniqueConstraint(fields=["plan", "input"], name="planinput_unique_pair"),
        ]

    def __str__(self) -> str:
        return f"input {self.input_id} -> plan {self.plan_id} (v{self.version}, {self.status})"

    def transition_to(self, target: str, **changes: Any) -> None:
        transition(self, self.TRANSITIONS, target, **changes)
