from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.images import DEBIAN_TO_MACHINE, PRESETS
from builds.repairs import index_path
from hints.contents import ContentsError, build_index


class Command(BaseCommand):
    help = (
        "Fetch the Debian Contents files of a builder preset's suite for an architecture and "
        "index what repairs look up (headers, pkg-config modules, libraries, programs, CMake "
        "packages): which package ships a file, answered in milliseconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--preset", default=settings.CONTAINER_PRESET, help=", ".join(PRESETS))
        parser.add_argument("--arch", required=True, help=", ".join(DEBIAN_TO_MACHINE))
        parser.add_argument(
            "--if-missing", action="store_true", help="do nothing when the index exists"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        preset, arch = options["preset"], options["arch"]
        if preset not in PRESETS:
            raise CommandError(f"--preset {preset!r} is not one of: {', '.join(PRESETS)}")
        if arch not in DEBIAN_TO_MACHINE:
            raise CommandError(f"--arch {arch!r} is not one of: {', '.join(DEBIAN_TO_MACHINE)}")
        destination = index_path(preset, arch)
        if options["if_missing"] and destination.exists():
            self.stdout.write(f"{destination} exists; nothing to do")
            return
        spec = PRESETS[preset]
        started = time.monotonic()
        verbose = options["verbosity"] > 1

        def say(line: str) -> None:
            if verbose:
                self.stdout.write(line)

        try:
            counts = build_index(spec["mirror"], spec["suite"], arch, destination, say=say)
        except ContentsError as exc:
            raise CommandError(str(exc)) from None
        listed = ", ".join(f"{count} {kind}" for kind, count in counts.items())
        self.stdout.write(
            f"indexed {spec['suite']}/{arch} in {time.monotonic() - started:.0f} s: {listed}"
        )
