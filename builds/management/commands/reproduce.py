"""Rebuild artifacts from their provenance and compare the bytes (reproducibility)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.models import Artifact
from builds.reproduce import ReproduceError, reproduce
from builds.runners.configured import runner_named
from refinery.lib.numbers import natural_number


class Command(BaseCommand):
    help = (
        "Rebuild each ARTIFACT (an id or a wheel file name) in a fresh environment from its "
        "recorded provenance and compare the bytes with the stored wheel; the verdict is "
        "recorded on the artifact. Exits 1 when one is not reproducible."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("artifacts", nargs="+", metavar="ARTIFACT")
        parser.add_argument(
            "--runner",
            choices=["local", "podman"],
            help="rebuild with this runner (default: the one that built it)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        artifacts = [self._find(given) for given in options["artifacts"]]
        runner = runner_named(options["runner"]) if options["runner"] else None
        different = 0
        for artifact in artifacts:
            try:
                verdict = reproduce(artifact, runner)
            except ReproduceError as exc:
                raise CommandError(str(exc)) from None
            word = "reproducible" if verdict.reproducible else "NOT reproducible"
            self.stdout.write(f"{artifact.filename}: {word} ({verdict.detail})")
            for member in verdict.differing[:20]:
                self.stdout.write(f"  differs: {member}")
            different += not verdict.reproducible
        if different:
            raise CommandError(f"{different} of {len(artifacts)} artifact(s) not reproducible")

    @staticmethod
    def _find(given: str) -> Artifact:
        found = (
            Artifact.objects.filter(pk=int(given)).first()
            if natural_number(given) is not None
            else Artifact.objects.filter(filename=given).first()
        )
        if found is None:
            raise CommandError(f"{given!r}: no such artifact (an id or a wheel file name)")
        return found
