"""Shared shape of the commands that move inputs into the plan queue (not a command itself)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inputs.models import PendingInput
from inputs.plan_queue import PlanQueueError, get_input
from refinery.lib.cli import parse_ids
from refinery.lib.state_machine import IllegalTransition


class InputQueueCommand(BaseCommand, ABC):
    done: str

    @abstractmethod
    def operate(self, pending: PendingInput) -> PendingInput:
        """The plan-queue service this command runs for each input."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input_ids", nargs="+", metavar="INPUT_ID")

    def handle(self, *args: Any, **options: Any) -> None:
        for input_id in parse_ids(options["input_ids"], "pending input"):
            try:
                pending = self.operate(get_input(input_id))
            except (PlanQueueError, IllegalTransition) as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"input {pending.pk} ({pending.original_filename}) {self.done}")
