"""Artifacts and manifests over HTTP, each wheel with its download link."""

from __future__ import annotations

import pytest

from builds.manifest import write_manifest
from tests.factories import ArtifactFactory, BuildJobFactory, PlanFactory, dag

pytestmark = pytest.mark.django_db


def test_artifacts_are_listed_with_filters_and_download_links(automation_api):
    six = ArtifactFactory(name="six", version="1.16.0")
    ArtifactFactory(name="idna", origin="built")
    body = automation_api.get("/api/artifacts?package=Six").json()
    (listed,) = body["results"]
    assert listed["download_url"] == f"/files/{six.sha256}/{six.filename}"
    built = automation_api.get("/api/artifacts?origin=built").json()["results"]
    assert [a["name"] for a in built] == ["idna"]
    assert automation_api.get(f"/api/artifacts/{six.pk}").json()["sha256"] == six.sha256
    assert automation_api.get("/api/artifacts?origin=stolen").status_code == 400


def test_a_plans_manifest_has_every_node_with_status_and_wheel_links(automation_api):
    plan = PlanFactory(dag=dag(("six", "1.16.0", "reuse"), ("markupsafe", "2.1.5", "build")))
    BuildJobFactory(name="six", version="1.16.0", plan=plan, target=plan.target, status="reused")
    wheel = ArtifactFactory(name="six", version="1.16.0", target=plan.target)
    write_manifest(plan)
    body = automation_api.get(f"/api/plans/{plan.pk}/manifest").json()
    nodes = {n["name"]: n for n in body["nodes"]}
    assert nodes["six"]["status"] == "reused"
    assert nodes["six"]["wheels"][0]["url"] == f"/files/{wheel.sha256}/{wheel.filename}"
    assert nodes["markupsafe"]["status"] == "not enqueued"
    listed = automation_api.get("/api/manifests").json()["results"]
    assert listed[0]["manifest_url"] == f"/api/plans/{plan.pk}/manifest"


def test_a_manifest_not_written_yet_is_written_on_first_read(automation_api):
    plan = PlanFactory()
    assert automation_api.get(f"/api/plans/{plan.pk}/manifest").json()["plan"] == plan.pk
    assert automation_api.get("/api/plans/999999/manifest").status_code == 404
