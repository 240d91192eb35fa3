"""The cluster starting a worker process (at start-up, or to replace one that died) starts
drain passes: they reclaim the builds and plans of workers that are gone and carry on with
both queues, rather than leave them until the minute's schedule or their lease runs out."""

from __future__ import annotations

import logging
from typing import Any

from django_q.conf import Conf
from django_q.tasks import async_task

logger = logging.getLogger(__name__)

_DRAINS = {
    "builds.tasks.drain_builds": "drain builds",
    "plans.tasks.drain_plan_queue": "drain plans",
}


def on_worker_spawn(sender: Any, proc_name: str = "", **kwargs: Any) -> None:
    if Conf.SYNC:
        return  # a task run in-process (tests, sync mode): no cluster started anything
    for task, name in _DRAINS.items():
        try:
            async_task(task, task_name=f"{name} ({proc_name} started)")
        except Exception:  # the minute's schedule drains anyway
            logger.warning("could not queue %s after %s started", name, proc_name, exc_info=True)
