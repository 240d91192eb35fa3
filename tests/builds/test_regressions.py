"""A regression: a package that built for a target fails at its next release (or the same
one) — two real builds of the same package with the local runner. The failed job is marked,
the pages say so, the counter moves and subscribers hear ``job.regressed``."""

from __future__ import annotations

from typing import Any

import pytest
from django_q.conf import Conf
from prometheus_client import REGISTRY

from builds.models import BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.runners.local import LocalRunner
from builds.worker import LocalBuildQueue, drain
from tests.factories import PlanFactory, TargetFactory
from tests.receivers import webhook_receiver
from tests.sdists import setuptools_sdist_node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def sdist_of(tmp_path, version: str, setup_py: str) -> dict[str, Any]:
    return setuptools_sdist_node(tmp_path, "regressme", setup_py, version=version)


def build(node: dict[str, Any], target, tmp_path) -> BuildJob:
    plan = PlanFactory(target=target, dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")
    drain(LocalBuildQueue(), LocalRunner(timeout=600, pip_cache=tmp_path / "pip"), "w", pool_size=1)
    return BuildJob.objects.get(plan=plan)


def test_the_next_release_failing_after_one_built_is_a_regression(
    tmp_path, storage_dir, settings, staff_api, client, admin_client, monkeypatch
):
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.MAX_REQUEUE_ATTEMPTS = 0  # one attempt: the failure is final at once
    target = TargetFactory()
    counted = REGISTRY.get_sample_value("refinery_regressions_total", {"target": str(target)}) or 0

    with webhook_receiver() as receiver:
        made = staff_api.post(
            "/api/subscriptions",
            {"kind": "webhook", "url": receiver.url, "secret": SECRET, "events": ["job.regressed"]},
            format="json",
        )
        assert made.status_code == 201

        good = build(
            sdist_of(tmp_path, "1.0", "from setuptools import setup\nsetup()\n"), target, tmp_path
        )
        assert good.status == "built", good.error
        assert good.regressed_from is None

        broken = "raise SystemExit('error: regressme 1.1 cannot be built here')\n"
        bad = build(sdist_of(tmp_path, "1.1", broken), target, tmp_path)

        assert bad.status == "failed"
        assert bad.regressed_from_id == good.pk
        (told,) = receiver.wait_for(1)
        assert told.signed_by(SECRET)
        assert told.payload["data"]["job"]["id"] == bad.pk
        assert told.payload["data"]["regressed_from"]["version"] == "1.0"
        assert told.payload["data"]["regressed_from"]["id"] == good.pk

    after = REGISTRY.get_sample_value("refinery_regressions_total", {"target": str(target)})
    assert after == counted + 1
    page = admin_client.get(f"/builds/{bad.pk}/").content.decode()
    assert "Regression:" in page
    assert "1.0 built for" in page
    listed = admin_client.get("/builds/", {"name": "regressme"}).content.decode()
    assert listed.count('class="status regressed"') == 1
    package = admin_client.get("/packages/regressme/").content.decode()
    assert "Regression:" in package
    assert staff_api.get(f"/api/builds/{bad.pk}").json()["regressed_from"] == good.pk


def test_a_first_failure_is_not_a_regression(tmp_path, storage_dir, settings):
    settings.MAX_REQUEUE_ATTEMPTS = 0
    broken = "raise SystemExit('error: never built')\n"

    bad = build(sdist_of(tmp_path, "2.0", broken), TargetFactory(), tmp_path)

    assert bad.status == "failed"
    assert bad.regressed_from is None
