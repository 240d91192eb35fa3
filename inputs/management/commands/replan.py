from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inputs.plan_queue import PlanQueueError, get_input, replan
from refinery.lib.cli import parse_ids
from refinery.lib.state_machine import IllegalTransition


class Command(BaseCommand):
    help = "Queue planned or failed inputs for a new plan version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input_ids", nargs="+", metavar="INPUT_ID")

    def handle(self, *args: Any, **options: Any) -> None:
        for input_id in parse_ids(options["input_ids"], "pending input"):
            try:
                pending = replan(get_input(input_id))
            except (PlanQueueError, IllegalTransition) as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(
                f"input {pending.pk} ({pending.original_filename}) queued for replanning"
            )
