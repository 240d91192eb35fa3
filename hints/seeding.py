"""Seeding catalog hints from a migration: entries are created or updated by name as
``source=seeded`` for one builder preset, and removed again when the migration is undone."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def seed_hints(preset: str, entries: list[dict[str, Any]]) -> migrations.RunPython:
    def seed(apps: Any, schema_editor: Any) -> None:
        Hint = apps.get_model("hints", "Hint")
        for entry in entries:
            Hint.objects.update_or_create(
                name=entry["name"],
                defaults={**entry, "scope": "global", "source": "seeded", "preset": preset},
            )

    def unseed(apps: Any, schema_editor: Any) -> None:
        apps.get_model("hints", "Hint").objects.filter(
            source="seeded", name__in=[entry["name"] for entry in entries]
        ).delete()

    return migrations.RunPython(seed, unseed)
