from typing import Any

from django.core.management.base import CommandParser

from inputs.management.commands._input_queue_command import InputQueueCommand
from inputs.models import PendingInput
from inputs.plan_queue import replan
from inputs.strategy import STRATEGIES


class Command(InputQueueCommand):
    help = "Queue planned or failed inputs for a new plan version."
    done = "queued for replanning"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--strategy",
            choices=STRATEGIES,
            help="plan with this strategy from now on (default: the input's own)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.strategy = options["strategy"]
        super().handle(*args, **options)

    def operate(self, pending: PendingInput) -> PendingInput:
        return replan(pending, strategy=self.strategy)
