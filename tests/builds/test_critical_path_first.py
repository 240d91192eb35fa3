"""Among one plan's ready builds, the one heading the longest chain of work is claimed first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from builds import queue
from builds.critical_path import DEFAULT_BUILD_MS, critical_paths
from builds.models import BuildJob
from builds.plan_builds import enqueue_plan_builds
from inputs.priority import Priority
from tests.factories import BuildJobFactory, PlanFactory, dag

pytestmark = pytest.mark.django_db


def _plan_with_build_edges(nodes: list[str], edges: list[tuple[str, str]], **fields):
    """Build nodes at 1.0; ``(a, b)``: building a needs b."""
    plan_dag = dag(*((name, "1.0", "build") for name in nodes))
    plan_dag["edges"] = [
        {"from": f"{a}==1.0", "to": f"{b}==1.0", "kind": "build"} for a, b in edges
    ]
    return PlanFactory(dag=plan_dag, **fields)


def test_the_head_of_the_longest_chain_is_claimed_before_a_lone_build_queued_with_it():
    # "aaa-leaf" sorts first by name and id; "zzz-base" has two builds waiting behind it.
    plan = _plan_with_build_edges(
        ["aaa-leaf", "zzz-base", "middle", "top"], [("middle", "zzz-base"), ("top", "middle")]
    )
    enqueue_plan_builds(plan, actor="ops")

    (first,) = queue.claim("w", max_n=1)
    (second,) = queue.claim("w", max_n=1)

    assert first.name == "zzz-base"
    assert second.name == "aaa-leaf"  # the rest of the chain waits for zzz-base
    assert queue.claim("w", max_n=1) == []


def test_a_package_that_built_slowly_before_starts_before_a_quick_one():
    plan = _plan_with_build_edges(["quick", "slow"], [])
    for name, seconds in (("quick", 20), ("slow", 900)):
        BuildJobFactory(
            name=name,
            version="0.9",
            target=plan.target,
            status=BuildJob.Status.BUILT,
            duration=timedelta(seconds=seconds),
        )
    enqueue_plan_builds(plan, actor="ops")

    claimed = queue.claim("w", max_n=2)

    assert [job.name for job in claimed] == ["slow", "quick"]
    assert [job.critical_path_ms for job in claimed] == [900_000, 20_000]


def test_priority_and_queue_age_still_come_before_the_critical_path():
    urgent = _plan_with_build_edges(["lone"], [], priority=Priority.HIGH)
    deep = _plan_with_build_edges(["base", "upper"], [("upper", "base")])
    enqueue_plan_builds(deep, actor="ops")
    enqueue_plan_builds(urgent, actor="ops")

    assert [job.name for job in queue.claim("w", max_n=2)] == ["lone", "base"]


def test_a_cycle_of_needs_is_followed_once_and_ends():
    needs = {"a==1": {"b==1"}, "b==1": {"a==1"}}

    paths = critical_paths(["a==1", "b==1"], needs, {})

    assert set(paths) == {"a==1", "b==1"}
    # Each counts itself and, at most, the other once.
    assert all(DEFAULT_BUILD_MS <= ms <= 2 * DEFAULT_BUILD_MS for ms in paths.values())
