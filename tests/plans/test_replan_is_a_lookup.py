"""Planning the same requirements again, while every page the plan read is unchanged and
within the TTL, returns the kept plan; a changed page or other requirements plan afresh."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement

from inputs.target_env import TargetEnvironment
from plans.dag import build_plan_dag
from plans.index_client import IndexClient
from tests.local_index import local_index
from tests.wheels import make_wheel

HOST = TargetEnvironment("3.11.7", "manylinux_2_17_x86_64")
REUSED = "unchanged since the last plan of the same requirements: reused"


@pytest.fixture
def index_url(tmp_path):
    files = [
        make_wheel(tmp_path, "app", "1.0", requires_dist=["lib>=1"]),
        make_wheel(tmp_path, "lib", "1.2"),
    ]
    with local_index(files) as url:
        yield url


def _plan(url, cache, requirement="app", ttl=600):
    said: list[str] = []
    with IndexClient([url], cache, ttl=ttl) as client:
        dag = build_plan_dag([Requirement(requirement)], client, HOST, progress=said.append)
    return dag, said


def test_the_same_requirements_planned_again_reuse_the_kept_plan(index_url, tmp_path):
    first, said_first = _plan(index_url, tmp_path / "cache")
    again, said_again = _plan(index_url, tmp_path / "cache")

    assert REUSED not in said_first
    assert said_again == [REUSED]
    assert again.as_json() == first.as_json()
    assert sorted(again.nodes) == ["app==1.0", "lib==1.2"]


def test_other_requirements_plan_afresh(index_url, tmp_path):
    _plan(index_url, tmp_path / "cache")

    _, other = _plan(index_url, tmp_path / "cache", requirement="app==1.0")

    assert REUSED not in other


def test_a_page_fetched_again_since_the_kept_plan_makes_it_plan_afresh(index_url, tmp_path):
    cache = tmp_path / "cache"
    _plan(index_url, cache)
    with IndexClient([index_url], cache, ttl=0) as fetching:  # lib's TTL ran out meanwhile
        fetching.project("lib")

    dag, said = _plan(index_url, cache)

    assert REUSED not in said
    assert sorted(dag.nodes) == ["app==1.0", "lib==1.2"]


def test_a_plan_whose_pages_outlived_the_ttl_is_not_reused(index_url, tmp_path):
    cache = tmp_path / "cache"
    _plan(index_url, cache)

    _, said = _plan(index_url, cache, ttl=0)

    assert REUSED not in said
