"""The cluster starting a worker process (at start-up, or to replace one that died) starts
a drain pass: it reclaims the builds of workers that are gone and carries on with the queue,
rather than leave them until the minute's schedule or their lease runs out."""

from __future__ import annotations

import logging
from typing import Any

from django_q.conf import Conf
from django_q.tasks import async_task

logger = logging.getLogger(__name__)


def on_worker_spawn(sender: Any, proc_name: str = "", **kwargs: Any) -> None:
    if Conf.SYNC:
        return  # a task run in-process (tests, sync mode): no cluster started anything
    try:
        async_task("builds.tasks.drain_builds", task_name=f"drain builds ({proc_name} started)")
    except Exception:  # the minute's schedule drains anyway
        logger.warning("could not queue a drain after %s started", proc_name, exc_info=True)
