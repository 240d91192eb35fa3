"""``manage.py front_config``: the nginx front for this refinery (see builds/index/front.py)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from builds.index.front import FrontConfigError, FrontOptions, front_config


class Command(BaseCommand):
    help = (
        "Print (or write) the nginx configuration of the production front: published index "
        "pages served from INDEX_PAGES_DIR, everything else proxied to the app."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--upstream", default="127.0.0.1:8000", help="the app's host:port (or unix:/path)"
        )
        parser.add_argument("--listen", default="8080", help="port (or address:port) to serve")
        parser.add_argument("--output", type=Path, help="write here instead of printing")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = front_config(FrontOptions(options["upstream"], options["listen"]))
        except FrontConfigError as exc:
            raise CommandError(str(exc)) from None
        output: Path | None = options["output"]
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            temporary = output.with_name(f".{output.name}.tmp")
            temporary.write_text(text)
            temporary.replace(output)
        except OSError as exc:
            raise CommandError(f"--output {output}: {exc.strerror}") from None
        self.stdout.write(f"wrote {output}")
