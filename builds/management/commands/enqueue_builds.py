from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.plan_builds import enqueue_plan_builds
from builds.queue import QueueError
from plans.models import Plan
from refinery.lib.cli import parse_ids
from refinery.lib.state_machine import IllegalTransition


class Command(BaseCommand):
    help = "Enqueue the build jobs of a plan (every node, or one with --node name==version)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("plan_id", metavar="PLAN_ID")
        parser.add_argument("--node", metavar="NAME==VERSION", help="enqueue only this node")

    def handle(self, *args: Any, **options: Any) -> None:
        (plan_id,) = parse_ids([options["plan_id"]], "plan")
        plan = Plan.objects.filter(pk=plan_id).first()
        if plan is None:
            raise CommandError(f"plan {plan_id} does not exist")
        try:
            summary = enqueue_plan_builds(plan, actor="cli", node=options["node"])
        except (QueueError, IllegalTransition) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"plan {plan.pk}: {summary}")
