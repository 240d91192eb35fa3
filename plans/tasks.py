"""django-q2 tasks for planning. They take ids only and are safe to run twice."""

from __future__ import annotations

from django.conf import settings

from inputs.plan_queue import (
    claim_for_planning,
    pop_for_planning,
    reclaim_plans_from_dead_workers,
)
from plans.planner import make_index_client
from plans.planner import plan_input as plan_one
from refinery import runtime_settings
from refinery.lib.worker_ids import local_worker_id


def _worker_id() -> str:
    return local_worker_id("q2")


def plan_input(input_id: int) -> str:
    """Plan one input if it is still waiting in the plan queue."""
    worker = _worker_id()
    if claim_for_planning(input_id, worker) is None:
        return f"input {input_id} is not waiting to be planned; nothing to do"
    plan = plan_one(input_id, worker)
    return f"input {input_id}: " + (f"plan {plan.pk}" if plan else "planning failed")


def drain_plan_queue() -> str:
    """Plan what waits in the queue (scheduled: picks up requeued and missed inputs)."""
    if not settings.LOCAL_PLANNING:
        return "local planning is off"
    worker = _worker_id()
    reclaim_plans_from_dead_workers()  # a killed planner's inputs go again now, not in minutes
    done = []
    with make_index_client() as client:
        for pending in pop_for_planning(worker, runtime_settings.value("plan_pool_size")):
            plan = plan_one(pending.pk, worker, client=client)
            done.append(f"{pending.pk}->{plan.pk if plan else 'failed'}")
    return f"planned: {', '.join(done) or 'nothing waiting'}"
