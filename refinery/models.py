"""What the refinery keeps for itself rather than for one stage of the flow."""

from __future__ import annotations

from django.db import models


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
