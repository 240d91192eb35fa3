from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.images import (
    DEBIAN_TO_MACHINE,
    PRESETS,
    ImageError,
    build_image,
    enable_binfmt,
    host_debian_arch,
    image_exists,
    image_name,
)
from builds.models import BuilderImage
from refinery.lib.progress import ProgressLine


class Command(BaseCommand):
    help = "Make a builder image offline (debootstrap + podman import) and record it for its arch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--preset", default="debian-bookworm", help=", ".join(PRESETS))
        parser.add_argument("--arch", required=True, help=", ".join(DEBIAN_TO_MACHINE))
        parser.add_argument(
            "--if-missing", action="store_true", help="do nothing when the image already exists"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        preset, arch = options["preset"], options["arch"]
        name = image_name(preset, arch)
        if arch != host_debian_arch():
            try:
                enable_binfmt(arch)  # lost at every boot; needed to run, not only to build
            except ImageError as exc:
                raise CommandError(str(exc)) from None
        if options["if_missing"] and image_exists(name):
            BuilderImage.objects.get_or_create(
                preset=preset, arch=arch, defaults={"image": name, "image_id": ""}
            )
            self.stdout.write(f"{name} exists; nothing to do")
            return
        started = time.monotonic()

        def clock() -> str:
            minutes, seconds = divmod(int(time.monotonic() - started), 60)
            return f"[{minutes:02d}:{seconds:02d}]"

        # Every tool line with -v 2; otherwise one step per line and a progress line (on a
        # terminal, rewritten in place; in a CI log, one line every 15 seconds).
        progress = ProgressLine(cast(TextIO, self.stderr._out), every=15.0)
        if options["verbosity"] > 1:
            say: Callable[[str], None] = self.stdout.write
        else:
            say = lambda line: progress(f"{clock()} {line[:100]}")  # noqa: E731

        def stage(message: str) -> None:
            progress.done()
            self.stdout.write(f"{clock()} {message}")

        try:
            image = build_image(
                preset, arch, workdir=Path(settings.VAR_DIR) / "images", say=say, stage=stage
            )
        except ImageError as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.done()
        self.stdout.write(f"{clock()} built {image.image} for {arch}")
