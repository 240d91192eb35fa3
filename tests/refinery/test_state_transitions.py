"""Every status change a state machine does not list is refused, naming both states."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone

from builds.models import BuildJob
from inputs.models import PendingInput
from plans.models import Plan, PlanInput
from refinery.lib.state_machine import IllegalTransition, StaleLease, TransitionConflict
from tests.factories import BuildJobFactory, PendingInputFactory, PlanFactory, PlanInputFactory

pytestmark = pytest.mark.django_db


def _illegal(model: Any) -> list[tuple[str, str]]:
    statuses = model.Status.values
    return [
        (current, target)
        for current in statuses
        for target in statuses
        if target not in model.TRANSITIONS[current]
    ]


MACHINES: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "BuildJob": (BuildJob, lambda status: BuildJobFactory(status=status)),
    "PendingInput": (
        PendingInput,
        lambda status: PendingInputFactory(status=status, lease_owner="", lease_expires_at=None),
    ),
    "Plan": (Plan, lambda status: PlanFactory(status=status)),
    "PlanInput": (PlanInput, lambda status: PlanInputFactory(status=status)),
}

CASES = [
    pytest.param(name, current, target, id=f"{name}:{current}->{target}")
    for name, (model, _) in MACHINES.items()
    for current, target in _illegal(model)
]


def test_every_status_of_every_machine_has_a_transition_entry():
    for model, _ in MACHINES.values():
        assert set(model.TRANSITIONS) == set(model.Status.values)
        for targets in model.TRANSITIONS.values():
            assert targets <= set(model.Status.values)


@pytest.mark.parametrize(("machine", "current", "target"), CASES)
def test_an_illegal_transition_is_refused_and_changes_nothing(machine, current, target):
    model, make = MACHINES[machine]
    instance = make(current)

    with pytest.raises(IllegalTransition) as refused:
        instance.transition_to(target)

    assert f"from {current!r} to {target!r}" in str(refused.value)
    assert model.objects.get(pk=instance.pk).status == current


def test_a_transition_from_a_stale_copy_is_refused_instead_of_overwriting():
    job = BuildJobFactory()
    stale = BuildJob.objects.get(pk=job.pk)
    job.transition_to(BuildJob.Status.CANCELLED)

    with pytest.raises(TransitionConflict, match=r"expected status 'pending'.*now 'cancelled'"):
        stale.transition_to(BuildJob.Status.SKIPPED_KNOWN_FAILURE)
    assert BuildJob.objects.get(pk=job.pk).status == BuildJob.Status.CANCELLED


def test_a_transition_stores_every_value_as_it_reads_back_and_holds_to_the_lease():
    job = BuildJobFactory(status=BuildJob.Status.BUILDING)
    finished = timezone.now()
    lost = BuildJob.objects.get(pk=job.pk)

    with pytest.raises(StaleLease, match="no longer holds the lease"):
        lost.transition_to(BuildJob.Status.BUILT, lease_owner_must_be="worker-9")
    job.transition_to(
        BuildJob.Status.BUILT,
        lease_owner_must_be="worker-0",
        lease_owner="",
        lease_expires_at=None,
        finished_at=finished,
        duration=timedelta(seconds=2.5),
        error="",
        recipe_origins=[{"hint": "h", "up_front": True}],
    )

    stored = BuildJob.objects.get(pk=job.pk)
    assert stored.status == BuildJob.Status.BUILT
    assert (stored.lease_owner, stored.lease_expires_at) == ("", None)
    assert stored.finished_at == finished
    assert stored.duration == timedelta(seconds=2.5)
    assert stored.recipe_origins == [{"hint": "h", "up_front": True}]
    assert stored.updated_at == job.updated_at


def test_a_transition_may_count_with_an_expression():
    job = BuildJobFactory(status=BuildJob.Status.PENDING, attempts=2)

    job.transition_to(BuildJob.Status.CANCELLED, attempts=F("attempts") + 1)

    stored = BuildJob.objects.get(pk=job.pk)
    assert (stored.status, stored.attempts) == (BuildJob.Status.CANCELLED, 3)


def test_the_seed_statuses_are_exactly_the_ones_modelled():
    assert set(PendingInput.Status.values) == {
        "pending",
        "planning",
        "planned",
        "queued",
        "build_queued",
        "failed",
    }
    assert set(BuildJob.Status.values) == {
        "pending",
        "leased",
        "building",
        "retry",
        "built",
        "failed",
        "cached",
        "reused",
        "missing",
        "skipped_known_failure",
        "system_recipe_failed",
        "cancelled",
    }


def test_a_claim_takes_exactly_the_statuses_the_machine_lets_become_leased():
    """The claim SQL is built from this list, so a status added to the machine with an edge
    to leased is claimable without touching the SQL, and no other status ever is."""
    leasable = {
        status for status, exits in BuildJob.TRANSITIONS.items() if BuildJob.Status.LEASED in exits
    }
    assert set(BuildJob.CLAIMABLE) == leasable == {"pending", "retry"}
