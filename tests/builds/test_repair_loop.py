"""Repair in the build queue: a failed attempt's stored log decides the next step, hints
apply up front and learn from successes, and a new hint re-queues what it would fix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from builds import images, repairs
from builds.log_sink import store_chunk
from builds.models import BuildEvent, BuildJob
from builds.worker import LocalBuildQueue
from hints.models import Hint
from tests.conftest import queued_tasks
from tests.factories import BuildJobFactory, HintFactory, PlanFactory
from tests.hints.conftest import log_lines

pytestmark = pytest.mark.django_db

WORKER = "worker-0"
SDIST = {"kind": "sdist", "url": "https://files.example/x-1.0.tar.gz", "sha256": "a" * 64}


def _failing(name: str, log: str, **fields) -> BuildJob:
    """A job whose running attempt just printed (a real excerpt of) ``log``."""
    node = {"name": name, "version": "1.0", "action": "build", "source": SDIST}
    plan = PlanFactory(dag={"nodes": [node], "edges": []})
    job = BuildJobFactory(
        name=name,
        status="building",
        lease_owner=WORKER,
        plan=plan,
        target=plan.target,
        **fields,
    )
    store_chunk(job.pk, job.attempts, 0, "\n".join(log_lines(log)) + "\n")
    return job


def _fail(job: BuildJob, runner: str = "podman", reason: str = "missing_build_dependency"):
    LocalBuildQueue().fail(job.pk, WORKER, reason=reason, error="build failed", runner=runner)
    job.refresh_from_db()
    return job


def test_a_missing_header_is_repaired_at_once_with_its_package(contents_dir):
    job = _fail(_failing("cffi", "cffi-1.16.0"))

    assert job.status == "retry"
    assert job.next_attempt_at <= timezone.now()
    assert job.recipes == [{"type": "system_packages", "packages": ["libffi-dev"]}]
    assert (job.repair_rounds, job.max_attempts) == (1, 5)
    (origin,) = job.recipe_origins
    assert (origin["round"], origin["problem"]["name"]) == (1, "ffi.h")
    assert job.failure_reason == "missing_build_dependency"
    assert job.error.startswith("repair: libffi-dev for missing header ffi.h")
    event = job.events.get(to_status="retry")
    assert event.data["repair_round"] == 1
    assert event.data["candidates"] == {"missing_header:ffi.h": ["libffi-dev"]}
    assert event.data["problems"][0]["evidence"].endswith("ffi.h: No such file or directory")


def test_no_repair_found_fails_for_good_with_the_problems_listed(contents_dir):
    dependent = BuildJobFactory(name="needs-typed-ast")
    job = _failing("typed-ast", "typed-ast-1.4.3", attempts=1)
    dependent.needs.create(name="typed-ast", version=job.version)
    job = _fail(job)

    assert job.status == "failed"
    assert job.failure_reason == "no_repair_found"
    assert job.attempts < job.max_attempts  # attempts left, and still no endless retries
    assert job.error == (
        "no repair found: missing header code.h (no package in the builder's suite ships it)"
    )
    assert job.events.last().data["problems"][0]["name"] == "code.h"
    dependent.refresh_from_db()
    assert dependent.status == "missing"


def test_the_local_runner_says_it_cannot_install_system_packages(contents_dir):
    job = _fail(_failing("cffi", "cffi-1.16.0"), runner="local")
    assert job.status == "failed"
    assert job.failure_reason == "missing_build_dependency"
    assert "needs system packages libffi-dev" in job.error
    assert "the local runner cannot install system packages" in job.error
    assert job.recipes == []


def test_a_failure_after_the_build_is_not_repaired(contents_dir):
    job = _failing("cffi", "cffi-1.16.0")
    LocalBuildQueue().fail(job.pk, WORKER, reason="build_error", error="auditwheel failed")
    job.refresh_from_db()
    assert (job.status, job.repair_rounds) == ("retry", 0)
    assert job.next_attempt_at > timezone.now()  # the usual backoff


def test_without_a_contents_index_the_error_says_what_to_run(settings, tmp_path):
    settings.CONTENTS_INDEX_DIR = tmp_path / "nothing-here"
    settings.CONTENTS_INDEX_AUTO_BUILD = False
    job = _fail(_failing("cffi", "cffi-1.16.0"))
    assert job.status == "failed"
    assert "run manage.py contents_index --arch amd64" in job.error


def _buildable(name: str, version: str = "1.0") -> BuildJob:
    node = {"name": name, "version": version, "action": "build", "source": SDIST}
    plan = PlanFactory(dag={"nodes": [node], "edges": []})
    return BuildJobFactory(name=name, version=version, plan=plan, target=plan.target)


def test_a_package_hint_without_a_pattern_applies_before_the_first_attempt():
    hint = HintFactory(
        name="learned",
        scope=Hint.Scope.PACKAGE,
        package="cffi",
        pattern="",
        recipes=[{"type": "system_packages", "packages": ["libffi-dev"]}],
    )
    job = _buildable("cffi")
    (claimed,) = LocalBuildQueue().claim(WORKER, 1)
    assert claimed.spec.recipes == [{"type": "system_packages", "packages": ["libffi-dev"]}]
    job.refresh_from_db()
    assert job.recipe_origins == [{"hint": "learned", "recipes": hint.recipes, "up_front": True}]
    assert job.events.filter(kind=BuildEvent.Kind.NOTE, message="recipes from learned").exists()
    hint.refresh_from_db()
    assert hint.hit_count == 1


def test_a_package_hint_that_skips_ends_the_job_without_building():
    HintFactory(
        scope=Hint.Scope.PACKAGE,
        package="pywin32",
        pattern="",
        recipes=[{"type": "skip", "reason": "Windows only"}],
    )
    job = _buildable("pywin32")
    assert LocalBuildQueue().claim(WORKER, 1) == []
    job.refresh_from_db()
    assert job.status == "skipped_known_failure"
    assert job.error.endswith("Windows only")


def test_a_success_after_a_repair_is_learned_for_the_packages_next_build(contents_dir):
    job = _fail(_failing("cffi", "cffi-1.16.0"))
    catalog = Hint.objects.get(name="PostgreSQL client library")
    BuildJob.objects.filter(pk=job.pk).update(
        recipe_origins=[*job.recipe_origins, {"hint": catalog.name, "recipes": catalog.recipes}]
    )
    Hint.objects.filter(pk=catalog.pk).update(hit_count=1)
    (claimed,) = LocalBuildQueue().claim(WORKER, 1)
    LocalBuildQueue().complete(claimed.id, WORKER, "stored")

    learned = Hint.objects.get(source=Hint.Source.AUTO)
    assert (learned.scope, learned.package, learned.preset) == (
        "package",
        "cffi",
        "debian-bookworm",
    )
    assert learned.pattern == ""
    assert learned.recipes == [{"type": "system_packages", "packages": ["libffi-dev"]}]
    catalog.refresh_from_db()
    assert catalog.success_count == 1

    later = _buildable("cffi", "1.17.0")
    (next_build,) = LocalBuildQueue().claim(WORKER, 1)
    assert next_build.id == later.pk
    assert next_build.spec.recipes == learned.recipes  # no failing round this time


def test_a_new_hint_requeues_the_failed_jobs_whose_log_it_matches(contents_dir):
    helped = _fail(_failing("typed-ast", "typed-ast-1.4.3"))
    other = _fail(_failing("sasl", "sasl-0.3.1"))
    assert helped.status == other.status == "failed"
    hint = HintFactory(
        name="code.h shim",
        pattern=r"fatal error: code\.h",
        recipes=[{"type": "build_requires", "requirements": ["typed-ast-shim"]}],
    )

    requeued = repairs.requeue_for_hint(hint.pk)

    assert [job.pk for job in requeued] == [helped.pk]
    helped.refresh_from_db()
    assert helped.status == "pending"
    assert helped.recipes == [{"type": "build_requires", "requirements": ["typed-ast-shim"]}]
    assert helped.recipe_origins[-1]["hint"] == "code.h shim"
    other.refresh_from_db()
    assert other.status == "failed"
    hint.refresh_from_db()
    assert hint.hit_count == 1


def test_saving_a_hint_over_the_api_queues_the_requeue(
    staff_api, django_capture_on_commit_callbacks
):
    body = {
        "name": "x",
        "pattern": "fatal error: x\\.h",
        "recipes": [{"type": "system_packages", "packages": ["libx-dev"]}],
    }
    with django_capture_on_commit_callbacks(execute=True):
        created = staff_api.post("/api/hints", body, format="json")
    assert created.status_code == 201
    assert [(t["func"], t["args"]) for t in queued_tasks()] == [
        ("builds.tasks.requeue_for_hint", (created.json()["id"],))
    ]


def test_an_operator_retries_with_recipes_and_the_success_is_learned(staff_api):
    job = BuildJobFactory(name="pycurl", status="failed", failure_reason="no_repair_found")
    recipes = [{"type": "system_packages", "packages": ["libcurl4-openssl-dev"]}]
    response = staff_api.post(f"/api/builds/{job.pk}/retry", {"recipes": recipes}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["recipes"]) == ("pending", recipes)
    assert body["recipe_origins"] == [{"operator": "api:operator", "recipes": recipes}]
    bad = staff_api.post(
        f"/api/builds/{job.pk}/retry",
        {"recipes": [{"type": "env", "vars": {"PIP_INDEX_URL": "x"}}]},
        format="json",
    )
    assert bad.status_code == 400
    assert "PIP_INDEX_URL may not be set" in bad.json()["error"]


def test_a_remote_workers_failure_report_is_repaired_on_the_server(worker_api, contents_dir):
    job = _failing("cffi", "cffi-1.16.0")
    BuildJob.objects.filter(pk=job.pk).update(lease_owner="worker/w1")
    body = {
        "job_id": job.pk,
        "worker": "w1",
        "status": "failed",
        "reason": "missing_build_dependency",
        "error": "x",
        "runner": "podman",
    }
    assert worker_api.post("/api/builds/status", body, format="json").json()["state"] == "retry"
    job.refresh_from_db()
    assert job.recipes == [{"type": "system_packages", "packages": ["libffi-dev"]}]


def test_an_operator_retry_gives_a_fresh_repair_budget():
    job = BuildJobFactory(status="failed", repair_rounds=4, max_attempts=8, attempts=8)
    repairs.retry_with_recipes(
        job, [{"type": "build_requires", "requirements": ["cython"]}], actor="me"
    )
    job.refresh_from_db()
    assert (job.status, job.repair_rounds, job.attempts, job.max_attempts) == ("pending", 0, 0, 4)
    assert job.enqueued_at > timezone.now() - timedelta(minutes=1)


def test_the_admin_retries_with_recipes_through_a_form(admin_client):
    job = BuildJobFactory(name="pycurl", status="failed", failure_reason="no_repair_found")
    url = "/admin/builds/buildjob/"
    page = admin_client.post(url, {"action": "retry_with_recipes", "_selected_action": [job.pk]})
    assert page.status_code == 200
    assert b"Retry with these recipes" in page.content
    recipes = '[{"type": "system_packages", "packages": ["libcurl4-openssl-dev"]}]'
    bad = admin_client.post(
        url,
        {
            "action": "retry_with_recipes",
            "_selected_action": [job.pk],
            "apply": "1",
            "recipes": '[{"type": "shell", "cmd": "x"}]',
        },
    )
    assert b"type &#x27;shell&#x27; is not one of" in bad.content
    done = admin_client.post(
        url,
        {
            "action": "retry_with_recipes",
            "_selected_action": [job.pk],
            "apply": "1",
            "recipes": recipes,
        },
    )
    assert done.status_code == 302
    job.refresh_from_db()
    assert job.status == "pending"
    assert job.recipes == [{"type": "system_packages", "packages": ["libcurl4-openssl-dev"]}]
    assert job.recipe_origins[-1]["operator"] == "admin:admin"


def test_a_missing_index_is_built_on_first_use(settings, tmp_path, monkeypatch, mirror):
    monkeypatch.setitem(
        images.PRESETS, "debian-bookworm", {**images.PRESETS["debian-bookworm"], "mirror": mirror}
    )
    settings.CONTENTS_INDEX_DIR = tmp_path / "first-use"
    job = _fail(_failing("cffi", "cffi-1.16.0"))
    assert job.status == "retry"
    assert job.recipes == [{"type": "system_packages", "packages": ["libffi-dev"]}]
    assert (tmp_path / "first-use" / "debian-bookworm-amd64.sqlite3").exists()
