"""A worker's queue keeps the jobs it claimed and moves them without reading their rows
again; each move is still a guarded update, so a job changed meanwhile is refused, and a
move retried after a rolled-back try (the database went away) still lands."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError

from builds import queue as build_queue
from builds.models import BuildEvent, BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.worker import LocalBuildQueue
from refinery.lib.state_machine import IllegalTransition
from tests.factories import PlanFactory
from tests.sdists import sdist_node

pytestmark = pytest.mark.django_db(transaction=True)


def _claimed_and_started(queue: LocalBuildQueue) -> int:
    plan = PlanFactory(
        dag={
            "nodes": [sdist_node("alpha", "1.0", "https://example.invalid/a.tar.gz", "0" * 64)],
            "edges": [],
        }
    )
    enqueue_plan_builds(plan, actor="test")
    (job,) = queue.claim("w1", 1)
    queue.start(job.id, "w1")
    return job.id


def test_a_completion_retried_after_its_transaction_rolled_back_lands(
    settings, monkeypatch: pytest.MonkeyPatch
):
    settings.DB_OUTAGE_PATIENCE_SEC = 30
    queue = LocalBuildQueue()
    with queue.follow_ups_in_background():
        job_id = _claimed_and_started(queue)
        create = BuildEvent.objects.create
        failures = iter([OperationalError("server closed the connection unexpectedly")])

        def event_once_lost(**fields: Any) -> BuildEvent:
            if fields.get("to_status") == BuildJob.Status.BUILT:
                failure = next(failures, None)
                if failure is not None:
                    raise failure  # after the row's update, inside its transaction
            return create(**fields)

        monkeypatch.setattr(BuildEvent.objects, "create", event_once_lost)
        queue.complete(job_id, "w1", message="stored")

    job = BuildJob.objects.get(pk=job_id)
    assert job.status == BuildJob.Status.BUILT
    assert job.lease_owner == ""
    moves = BuildEvent.objects.filter(job=job).values_list("to_status", flat=True)
    assert list(moves.order_by("pk"))[-3:] == ["leased", "building", "built"]  # built once


def test_a_held_job_cancelled_meanwhile_is_not_completed_over():
    queue = LocalBuildQueue()
    with queue.follow_ups_in_background():
        job_id = _claimed_and_started(queue)
        build_queue.cancel(BuildJob.objects.get(pk=job_id), actor="ops")

        with pytest.raises(IllegalTransition):
            queue.complete(job_id, "w1", message="stored")

    assert BuildJob.objects.get(pk=job_id).status == BuildJob.Status.CANCELLED
