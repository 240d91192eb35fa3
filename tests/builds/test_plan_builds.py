"""Enqueueing a plan's builds: jobs for build nodes, reused/cached recorded at once, repeat-safe."""

from __future__ import annotations

import pytest

from builds.models import BuildEvent, BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.queue import QueueError
from inputs.models import PendingInput
from plans.models import Plan
from refinery.lib.priority import Priority
from tests.factories import PlanFactory, PlanInputFactory, dag

pytestmark = pytest.mark.django_db

Status = BuildJob.Status


def _plan():
    plan = PlanFactory(
        priority=Priority.HIGH,
        dag=dag(
            ("numpy", "2.1.3", "build"),
            ("cython", "3.0.11", "build"),
            ("pyyaml", "6.0.2", "reuse"),
            ("six", "1.16.0", "cached"),
        ),
    )
    link = PlanInputFactory(plan=plan)
    return plan, link.input


def test_build_nodes_become_pending_jobs_and_existing_wheels_are_recorded_at_once():
    plan, pending = _plan()

    summary = enqueue_plan_builds(plan, actor="ops")

    jobs = {j.name: j for j in BuildJob.objects.filter(plan=plan)}
    assert {n: j.status for n, j in jobs.items()} == {
        "numpy": "pending",
        "cython": "pending",
        "pyyaml": "reused",
        "six": "cached",
    }
    assert jobs["numpy"].priority == Priority.HIGH
    assert (len(summary.enqueued), len(summary.recorded)) == (2, 2)
    plan.refresh_from_db()
    pending.refresh_from_db()
    assert plan.status == Plan.Status.QUEUED
    assert pending.status == PendingInput.Status.QUEUED
    assert BuildEvent.objects.filter(job=jobs["pyyaml"], to_status="reused").exists()


def test_enqueueing_a_plan_twice_creates_no_duplicate_jobs():
    plan, _ = _plan()
    enqueue_plan_builds(plan, actor="ops")
    again = enqueue_plan_builds(plan, actor="ops")
    assert BuildJob.objects.filter(plan=plan).count() == 4
    assert (len(again.enqueued), len(again.already_queued), again.skipped) == (0, 2, 2)


def test_one_node_can_be_enqueued_alone_and_marks_the_plan_build_queued():
    plan, pending = _plan()
    summary = enqueue_plan_builds(plan, actor="ops", node="cython==3.0.11")
    assert [j.name for j in summary.enqueued] == ["cython"]
    plan.refresh_from_db()
    pending.refresh_from_db()
    assert plan.status == Plan.Status.BUILD_QUEUED
    assert pending.status == PendingInput.Status.BUILD_QUEUED

    enqueue_plan_builds(plan, actor="ops")
    plan.refresh_from_db()
    assert plan.status == Plan.Status.QUEUED


def test_an_unknown_node_is_refused_by_name():
    plan, _ = _plan()
    with pytest.raises(QueueError, match=r"has no node 'flask==3\.0'"):
        enqueue_plan_builds(plan, actor="ops", node="flask==3.0")
    assert not BuildJob.objects.exists()
