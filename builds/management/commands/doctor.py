"""Check what the refinery needs on this host and say how to fix what is missing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from builds.health_checks import (
    Check,
    builder_images,
    database,
    podman,
    redis_broker,
    storage,
    stranded_builds,
)
from refinery.lib.cli import table


class Command(BaseCommand):
    help = "Check podman, binfmt, builder images, storage, the database and Redis."

    def handle(self, *args: Any, **options: Any) -> None:
        probes: list[Callable[[], Check | list[Check]]] = [database, redis_broker, storage]
        if settings.RUNNER == "podman" or shutil.which(settings.PODMAN_BIN):
            probes += [podman, builder_images]
        probes.append(stranded_builds)
        checks: list[Check] = []
        for probe in probes:
            found = probe()
            checks += found if isinstance(found, list) else [found]
        self.stdout.write(
            table(
                ["check", "state", "detail / fix"],
                [[w, "ok" if ok else "MISSING", d] for w, ok, d in checks],
            )
        )
        missing = [w for w, ok, _ in checks if not ok]
        if missing:
            raise CommandError(f"{len(missing)} problem(s): {', '.join(missing)}")
