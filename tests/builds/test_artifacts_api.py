"""Artifacts and manifests over HTTP, each wheel with its download link."""

from __future__ import annotations

import pytest

from builds.manifest import write_manifest
from tests.factories import ArtifactFactory, BuildJobFactory, PlanFactory, dag

pytestmark = pytest.mark.django_db


def test_artifacts_are_listed_with_filters_and_download_links(client):
    six = ArtifactFactory(name="six", version="1.16.0")
    ArtifactFactory(name="idna", origin="built")
    body = client.get("/api/artifacts?package=Six").json()
    (listed,) = body["results"]
    assert listed["download_url"] == f"/files/{six.sha256}/{six.filename}"
    assert [a["name"] for a in client.get("/api/artifacts?origin=built").json()["results"]] == [
        "idna"
    ]
    assert client.get(f"/api/artifacts/{six.pk}").json()["sha256"] == six.sha256
    assert client.get("/api/artifacts?origin=stolen").status_code == 400


def test_a_plans_manifest_has_every_node_with_status_and_wheel_links(client):
    plan = PlanFactory(dag=dag(("six", "1.16.0", "reuse"), ("markupsafe", "2.1.5", "build")))
    BuildJobFactory(name="six", version="1.16.0", plan=plan, target=plan.target, status="reused")
    wheel = ArtifactFactory(name="six", version="1.16.0", target=plan.target)
    write_manifest(plan)
    body = client.get(f"/api/plans/{plan.pk}/manifest").json()
    nodes = {n["name"]: n for n in body["nodes"]}
    assert nodes["six"]["status"] == "reused"
    assert nodes["six"]["wheels"][0]["url"] == f"/files/{wheel.sha256}/{wheel.filename}"
    assert nodes["markupsafe"]["status"] == "not enqueued"
    listed = client.get("/api/manifests").json()["results"]
    assert listed[0]["manifest_url"] == f"/api/plans/{plan.pk}/manifest"


def test_a_manifest_not_written_yet_is_written_on_first_read(client):
    plan = PlanFactory()
    assert client.get(f"/api/plans/{plan.pk}/manifest").json()["plan"] == plan.pk
    assert client.get("/api/plans/999999/manifest").status_code == 404
