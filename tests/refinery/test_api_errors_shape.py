"""Mistakes against the API answer in its own error shape: an unknown path is a JSON 404,
an unknown filter a 400 naming it (never the whole unfiltered list)."""

from __future__ import annotations

import pytest

from tests.factories import ArtifactFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/builds/1/explode", "/api/"])
def test_an_unknown_api_path_is_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": f"no API endpoint at {path}"}


def test_an_unknown_filter_is_refused_with_the_known_ones(staff_api):
    ArtifactFactory(name="six")
    ArtifactFactory(name="numpy")
    response = staff_api.get("/api/artifacts?nmae=six")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("nmae: unknown query parameter; known: ")
    assert "package" in error.split("known: ")[1]


def test_known_filters_and_pagination_still_work(staff_api):
    ArtifactFactory(name="six")
    ArtifactFactory(name="numpy")
    response = staff_api.get("/api/artifacts?package=six&limit=10&offset=0")
    assert response.status_code == 200
    assert [a["name"] for a in response.json()["results"]] == ["six"]


@pytest.mark.parametrize(
    "path",
    ["/api/builds", "/api/pending-inputs", "/api/plans", "/api/hints", "/api/history"],
)
def test_every_list_refuses_an_unknown_filter(staff_api, path):
    response = staff_api.get(f"{path}?bogus=1")
    assert response.status_code == 400
    assert response.json()["error"].startswith("bogus: unknown query parameter")
