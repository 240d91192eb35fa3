from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.index.catalog import target_for_slug
from builds.wheel_upload import WheelUploadError, upload_wheel
from inputs.command_options import add_plan_options, overrides_option
from inputs.priority import Priority
from inputs.services import UploadError, read_requirements_path, upload_requirements


class Command(BaseCommand):
    help = (
        "Upload a requirements file (validated, stored and with AUTO_PLAN queued for planning) "
        "or a wheel (validated, stored and published in the index)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--python", help="target Python, e.g. 3.11 (default PYTHON_VERSION)")
        parser.add_argument("--platform", help="target platform tag (default PLATFORM_TAG)")
        parser.add_argument("--priority", default="normal", help="low, normal, high or critical")
        add_plan_options(parser)
        parser.add_argument(
            "--target",
            help="wheels: the index, e.g. cp311-manylinux_2_17_s390x (default: the default target)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if path.suffix == ".whl":
            self._upload_wheel(path, options["target"])
            return
        try:
            content = read_requirements_path(path)
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        except UploadError as exc:
            raise CommandError(str(exc)) from None
        try:
            priority = Priority.from_name(options["priority"])
        except ValueError as exc:
            raise CommandError(f"--priority: {exc}") from None
        overrides = overrides_option(options["overrides"])
        try:
            result = upload_requirements(
                content,
                path.name,
                python_version=options["python"],
                platform_tag=options["platform"],
                priority=priority,
                strategy=options["strategy"],
                no_binary=options["no_binary"],
                only_binary=options["only_binary"],
                overrides=overrides,
            )
        except UploadError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(result.message)

    def _upload_wheel(self, path: Path, slug: str | None) -> None:
        target = target_for_slug(slug)
        if target is None:
            raise CommandError(f"--target {slug!r}: no such index (see the Target list)")
        try:
            with path.open("rb") as handle:
                result = upload_wheel(handle, path.name, target=target, uploader="manage.py")
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        except WheelUploadError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(result.message)
