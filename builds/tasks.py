"""django-q2 task entry points for the build queue. Tasks take ids only and are idempotent."""

from __future__ import annotations

from builds import plan_builds
from builds.queue import reap_expired_leases as reap_build_leases
from inputs.plan_queue import reap_expired_plan_leases
from plans.models import Plan


def reap_expired_leases() -> str:
    """Scheduled every REAPER_INTERVAL_SEC: requeue work whose worker stopped heartbeating."""
    builds = reap_build_leases()
    plans_requeued, plans_failed = reap_expired_plan_leases()
    return (
        f"builds: {builds.requeued} requeued, {builds.failed} failed; "
        f"plans: {plans_requeued} requeued, {plans_failed} failed"
    )


def enqueue_plan_builds(plan_id: int) -> str:
    """AUTO_BUILD: create the build jobs of a freshly saved plan (repeat-safe)."""
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        return f"plan {plan_id} no longer exists"
    return f"plan {plan_id}: {plan_builds.enqueue_plan_builds(plan, actor='auto-build')}"
