"""What the refinery keeps for itself rather than for one stage of the flow."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone


class SettingOverride(models.Model):
    """An operator's value for a runtime setting (``/api/settings``), taking the place of
    the environment's value until it is reset. ``refinery.runtime_settings`` validates
    every value before it is stored here."""

    key = models.CharField(max_length=64, primary_key=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}"


class WorkerToken(models.Model):
    """A remote worker's own credential (``manage.py worker_token create NAME``).

    The worker sends the key as ``X-Worker-Token``; only its sha256 is kept. The name is
    the worker's identity: every lease it takes is held as ``<name>/<its own id>``."""

    name = models.SlugField(max_length=64, unique=True)
    key_digest = models.CharField(max_length=64, unique=True, help_text="sha256 of the key")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}{' (revoked)' if self.revoked else ''}"

    def mark_used(self) -> None:
        """Record use at most once a minute: a heartbeat must not write every time."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > timedelta(minutes=1):
            WorkerToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
