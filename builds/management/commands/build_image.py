from __future__ import annotations

from pathlib import Path
from typing import Any

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
        verbosity = options["verbosity"]
        try:
            image = build_image(
                preset,
                arch,
                workdir=Path(settings.VAR_DIR) / "images",
                say=(lambda line: self.stdout.write(line))
                if verbosity > 1
                else (lambda line: None),
            )
        except ImageError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"built {image.image} for {arch}")
