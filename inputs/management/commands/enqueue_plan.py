from inputs.management.commands._input_queue_command import InputQueueCommand
from inputs.models import PendingInput
from inputs.plan_queue import enqueue_plan


class Command(InputQueueCommand):
    help = "Put pending inputs in the plan queue (pending -> planning)."
    done = "queued for planning"

    def operate(self, pending: PendingInput) -> PendingInput:
        return enqueue_plan(pending)
