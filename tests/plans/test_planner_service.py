"""Upload -> plan queue -> planner -> saved plan -> (AUTO_BUILD) build jobs, on real PyPI."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import default_storage

from builds import tasks as build_tasks
from builds.models import Artifact, BuildJob
from inputs import plan_queue
from inputs.models import PendingInput
from inputs.services import upload_requirements
from plans import tasks as plan_tasks
from plans.index_client import IndexClient
from plans.models import Plan, PlanInput
from plans.planner import PlanRequest, compute_plan
from tests.conftest import queued_tasks

pytestmark = [pytest.mark.django_db, pytest.mark.network]

S390X = "manylinux_2_17_s390x"
SMALL = b"requests==2.32.3\nsix==1.16.0\nmarkupsafe==2.1.5\npyyaml==6.0.2\ncffi==1.17.1\n"


@pytest.fixture(autouse=True)
def _isolated(settings, storage_dir, tmp_path):
    settings.INDEX_CACHE_DIR = tmp_path / "index-cache"
    settings.LOCAL_PLANNING = True


# Transactional: reused wheels are fetched by threads with their own connections.
@pytest.mark.django_db(transaction=True)
def test_an_upload_is_planned_and_its_builds_enqueued_end_to_end(
    settings, django_capture_on_commit_callbacks
):
    settings.AUTO_PLAN = settings.AUTO_BUILD = True
    with django_capture_on_commit_callbacks(execute=True):
        pending = upload_requirements(SMALL, "small.txt", platform_tag=S390X).pending
    assert [t["func"] for t in queued_tasks()] == ["plans.tasks.plan_input"]

    with django_capture_on_commit_callbacks(execute=True):
        outcome = plan_tasks.plan_input(pending.pk)

    pending.refresh_from_db()
    plan = Plan.objects.get()
    assert outcome == f"input {pending.pk}: plan {plan.pk}"
    assert pending.status == PendingInput.Status.PLANNED
    assert str(plan.target) == "cp311-manylinux_2_17_s390x"
    assert plan.input_links.get().version == 1
    assert plan.snapshot["counts"]["build"] == 1
    assert plan.snapshot["requirements"][0]["requirement"] == "requests==2.32.3"
    assert queued_tasks()[-1]["func"] == "builds.tasks.enqueue_plan_builds"

    build_tasks.enqueue_plan_builds(plan.pk)

    jobs = dict(BuildJob.objects.filter(plan=plan).values_list("name", "status"))
    assert jobs["markupsafe"] == "pending"
    assert jobs["pyyaml"] == jobs["requests"] == "reused"
    pyyaml = Artifact.objects.get(name="pyyaml")  # fetched, verified and stored for our index
    assert pyyaml.origin == "reused"
    assert "manylinux_2_17_s390x" in pyyaml.filename
    with default_storage.open(pyyaml.storage_key) as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == pyyaml.sha256
    assert "builds.tasks.drain_builds" in [t["func"] for t in queued_tasks()]
    pending.refresh_from_db()
    assert pending.status == PendingInput.Status.QUEUED


def test_the_task_does_nothing_for_an_input_that_is_not_waiting(settings):
    settings.AUTO_PLAN = False
    pending = upload_requirements(SMALL, "small.txt").pending
    assert "not waiting" in plan_tasks.plan_input(pending.pk)
    pending.refresh_from_db()
    assert pending.status == PendingInput.Status.PENDING


def test_with_auto_build_off_a_plan_waits_for_an_operator(
    settings, django_capture_on_commit_callbacks
):
    settings.AUTO_PLAN, settings.AUTO_BUILD = True, False
    pending = upload_requirements(SMALL, "small.txt", platform_tag=S390X).pending
    with django_capture_on_commit_callbacks(execute=True):
        plan_tasks.plan_input(pending.pk)
    assert Plan.objects.get().status == Plan.Status.PLANNED
    assert "builds.tasks.enqueue_plan_builds" not in [t["func"] for t in queued_tasks()]
    assert not BuildJob.objects.exists()


def test_a_conflict_fails_the_input_with_the_chain(settings):
    settings.AUTO_PLAN = True
    pending = upload_requirements(b"flask==3.0.0\nmarkupsafe==1.1.1\n", "c.txt").pending
    plan_tasks.plan_input(pending.pk)
    pending.refresh_from_db()
    assert pending.status == PendingInput.Status.FAILED
    assert "flask==3.0.0 requires Jinja2>=3.1.2; jinja2==" in pending.error
    assert "the file pins markupsafe==1.1.1" in pending.error
    assert not Plan.objects.exists()


@pytest.mark.parametrize(("strategy", "keeps_old"), [("pinned", True), ("eager", False)])
def test_replanning_makes_a_new_version_and_pinned_keeps_the_previous_versions(
    settings, strategy, keeps_old
):
    settings.AUTO_PLAN, settings.AUTO_BUILD = True, False
    pending = upload_requirements(b"requests==2.32.3\n", "r.txt", strategy=strategy).pending
    plan_tasks.plan_input(pending.pk)
    first = Plan.objects.get()
    # Pretend the first plan was made when urllib3 2.2.0 was the newest.
    first.dag["nodes"] = [
        {**n, "version": "2.2.0"} if n["name"] == "urllib3" else n for n in first.dag["nodes"]
    ]
    first.save()

    plan_queue.replan(PendingInput.objects.get(pk=pending.pk))
    plan_tasks.plan_input(pending.pk)

    second = Plan.objects.exclude(pk=first.pk).get()
    links = {link.version: link.status for link in PlanInput.objects.filter(input=pending)}
    assert links == {1: "superseded", 2: "current"}
    urllib3 = next(n["version"] for n in second.dag["nodes"] if n["name"] == "urllib3")
    assert (urllib3 == "2.2.0") is keeps_old


def test_a_re_plan_inside_the_ttl_touches_no_network(tmp_path):
    request = PlanRequest(
        requirements=[{"requirement": r} for r in SMALL.decode().split()],
        python_version="3.11",
        platform_tag=S390X,
        strategy="pinned",
    )
    with IndexClient(["https://pypi.org/simple/"], tmp_path / "c", ttl=600) as cold:
        first, _ = compute_plan(request, cold)
        assert cold.network_requests > 0
    with IndexClient(["https://pypi.org/simple/"], tmp_path / "c", ttl=600) as warm:
        second, _ = compute_plan(request, warm)
        assert warm.network_requests == 0
    assert first == second
