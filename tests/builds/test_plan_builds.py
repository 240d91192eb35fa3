"""Enqueueing a plan's builds: jobs for build nodes, reused/cached recorded at once, repeat-safe."""

from __future__ import annotations

from itertools import pairwise

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from builds import queue as build_queue
from builds.models import BuildDependency, BuildEvent, BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.queue import QueueError
from inputs.models import PendingInput
from inputs.priority import Priority
from plans.models import Plan
from tests.factories import ArtifactFactory, PlanFactory, PlanInputFactory, dag

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
    # pyyaml's upstream wheel was fetched and six was built before: both are in our store.
    ArtifactFactory(target=plan.target, name="pyyaml", version="6.0.2")
    ArtifactFactory(target=plan.target, name="six", version="1.16.0", origin="built")
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


def test_a_build_job_waits_until_its_build_environment_is_available():
    plan = PlanFactory(
        dag={
            **dag(
                ("numpy", "2.1.3", "build"),
                ("cython", "3.0.11", "build"),
                ("meson-python", "0.17.1", "reuse"),
                ("packaging", "24.2", "reuse"),
            ),
            "edges": [
                {"from": "numpy==2.1.3", "to": "cython==3.0.11", "kind": "build"},
                {"from": "numpy==2.1.3", "to": "meson-python==0.17.1", "kind": "build"},
                {"from": "meson-python==0.17.1", "to": "packaging==24.2", "kind": "install"},
            ],
        }
    )
    for name, version in (("meson-python", "0.17.1"), ("packaging", "24.2")):
        ArtifactFactory(target=plan.target, name=name, version=version)
    enqueue_plan_builds(plan, actor="ops")
    numpy = BuildJob.objects.get(name="numpy")
    assert set(numpy.needs.values_list("name", "version")) == {
        ("cython", "3.0.11"),
        ("meson-python", "0.17.1"),
        ("packaging", "24.2"),
    }

    (first,) = build_queue.claim("w", max_n=5)
    assert first.name == "cython"  # numpy is not claimable before cython is built
    build_queue.complete(first.pk, "w")
    (second,) = build_queue.claim("w", max_n=5)
    assert second.name == "numpy"


def test_when_a_build_finally_fails_its_dependents_go_missing_and_the_rest_keeps_building(settings):
    settings.REQUEUE_ON_FAILURE = False
    plan = PlanFactory(
        dag={
            **dag(
                ("numpy", "2.1.3", "build"),
                ("cython", "3.0.11", "build"),
                ("scipy", "1.14.1", "build"),
                ("six", "1.16.0", "build"),
            ),
            "edges": [
                {"from": "numpy==2.1.3", "to": "cython==3.0.11", "kind": "build"},
                {"from": "scipy==1.14.1", "to": "numpy==2.1.3", "kind": "build"},
            ],
        }
    )
    enqueue_plan_builds(plan, actor="ops")
    claimed = {job.name: job for job in build_queue.claim("w", max_n=5)}
    assert set(claimed) == {"cython", "six"}

    build_queue.fail(claimed["cython"].pk, "w", reason="build_error", error="gcc exploded")

    status = dict(BuildJob.objects.values_list("name", "status"))
    assert status == {"cython": "failed", "numpy": "missing", "scipy": "missing", "six": "leased"}
    numpy = BuildJob.objects.get(name="numpy")
    assert numpy.failure_reason == "dependency_failed"
    assert "needs cython==3.0.11" in numpy.error
    assert "numpy==2.1.3 missing" in BuildJob.objects.get(name="scipy").error
    build_queue.complete(claimed["six"].pk, "w")
    assert BuildJob.objects.get(name="six").status == "built"


def test_a_build_node_already_in_our_store_counts_as_cached_in_the_plan():
    plan = PlanFactory(
        dag=dag(("markupsafe", "2.1.5", "build"), ("cython", "3.0.11", "build")),
        snapshot={"counts": {"build": 2, "reuse": 0, "cached": 0}},
    )
    ArtifactFactory(target=plan.target, name="markupsafe", version="2.1.5", origin="built")

    enqueue_plan_builds(plan, actor="ops")

    plan.refresh_from_db()
    assert plan.snapshot["counts"] == {"build": 1, "reuse": 0, "cached": 1}
    assert {n["name"]: n["action"] for n in plan.nodes()} == {
        "markupsafe": "cached",
        "cython": "build",
    }


def _chain(length: int) -> Plan:
    """``length`` build nodes, each needing the one before it to build."""
    names = [f"chain{length}-link-{number}" for number in range(length)]
    return PlanFactory(
        dag={
            **dag(*((name, "1.0", "build") for name in names)),
            "edges": [
                {"from": f"{later}==1.0", "to": f"{earlier}==1.0", "kind": "build"}
                for earlier, later in pairwise(names)
            ],
        }
    )


def test_enqueueing_a_bigger_plan_costs_no_more_statements():
    """What is looked up for every node (done before? in our store? queued already?) and
    what is written for it (its job, its first event, what it needs) is read and written
    once per plan: a 40-node plan costs what a 10-node one does (each node cost 7
    statements when it was queued on its own)."""
    counts = []
    for length in (10, 40):
        plan = _chain(length)
        with CaptureQueriesContext(connection) as queries:
            enqueue_plan_builds(plan, actor="ops")
        counts.append(len(queries))
        assert BuildDependency.objects.filter(job__plan=plan).count() == length - 1
        assert BuildEvent.objects.filter(job__plan=plan, to_status="pending").count() == length

    assert counts[1] == counts[0]


def test_a_node_another_plan_already_queued_is_shared_and_raised_to_this_plans_priority():
    plan, _ = _plan()
    earlier = build_queue.enqueue("numpy", "2.1.3", plan.target, priority=Priority.LOW)[0]

    summary = enqueue_plan_builds(plan, actor="ops")

    assert [job.pk for job in summary.already_queued] == [earlier.pk]
    assert [job.name for job in summary.enqueued] == ["cython"]
    earlier.refresh_from_db()
    assert earlier.priority == Priority.HIGH
    assert BuildEvent.objects.filter(job=earlier, message="priority raised to high").exists()
