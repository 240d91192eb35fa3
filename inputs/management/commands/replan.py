from inputs.management.commands._input_queue_command import InputQueueCommand
from inputs.models import PendingInput
from inputs.plan_queue import replan


class Command(InputQueueCommand):
    help = "Queue planned or failed inputs for a new plan version."
    done = "queued for replanning"

    def operate(self, pending: PendingInput) -> PendingInput:
        return replan(pending)
