"""The hint catalog: log patterns that recognise a build failure and recipes that fix it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from hints.patterns import PatternError, compile_pattern
from hints.recipes import validate_recipes


def validate_pattern(value: str) -> None:
    try:
        compile_pattern(value)
    except PatternError as exc:
        raise ValidationError(str(exc)) from None


class Hint(models.Model):
    """Recipes for builds, and when they apply.

    A global hint applies when a failed build's log matches its ``pattern`` (what a log
    alone cannot tell: which package ships a config tool, what a message implies). A
    package hint applies to its package: with a pattern, when a failure of that package
    matches it; without one, before the first attempt (what the refinery learned).
    ``preset`` limits a hint to the builder preset whose package names its recipes use.
    A ``skip`` recipe marks a known failure: the build ends ``skipped_known_failure``."""

    class Scope(models.TextChoices):
        GLOBAL = "global", "every package"
        PACKAGE = "package", "one package"

    class Source(models.TextChoices):
        SEEDED = "seeded"
        MANUAL = "manual"
        AUTO = "auto"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    pattern = models.TextField(
        blank=True,
        validators=[validate_pattern],
        help_text=(
            "Regular expression (Python syntax) searched line by line, with a time limit. "
            "Blank (package hints only): the recipes apply before the first attempt."
        ),
    )
    recipes = models.JSONField(default=list, validators=[validate_recipes])
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.GLOBAL)
    package = models.CharField(
        max_length=200, blank=True, help_text="Normalized project name when scope is package."
    )
    preset = models.CharField(
        max_length=64,
        blank=True,
        help_text="Builder preset whose package names the recipes use; blank: any.",
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    enabled = models.BooleanField(default=True)
    hit_count = models.PositiveIntegerField(
        default=0, help_text="Failed builds the pattern matched."
    )
    success_count = models.PositiveIntegerField(
        default=0, help_text="Retries with these recipes that then built."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="global", package="") | (Q(scope="package") & ~Q(package=""))),
                name="hint_package_iff_package_scope",
            ),
            models.CheckConstraint(
                condition=Q(success_count__lte=models.F("hit_count")),
                name="hint_successes_within_hits",
            ),
            # Only a package hint may go without a pattern (it applies up front).
            models.CheckConstraint(
                condition=Q(scope="package") | ~Q(pattern=""),
                name="hint_global_needs_pattern",
            ),
        ]
        indexes = [
            # Log matcher: the enabled hints for one package plus the global ones.
            models.Index(
                fields=["scope", "package"],
                name="hint_enabled_scope_idx",
                condition=Q(enabled=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.scope == self.Scope.PACKAGE and not self.package:
            raise ValidationError({"package": "a package-scoped hint needs a package name"})
        if self.scope == self.Scope.GLOBAL and self.package:
            raise ValidationError({"package": "a global hint must not name a package"})
        if self.scope == self.Scope.GLOBAL and not self.pattern.strip():
            raise ValidationError({"pattern": "a global hint needs a pattern to match logs"})
