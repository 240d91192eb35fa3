"""A version that must be built and cannot be (its build requirements cannot be met) is passed
over for one that can, and the plan says so; an exact pin of it fails with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from inputs.target_env import TargetEnvironment
from plans.dag import PlanError, build_plan_dag
from plans.index_client import IndexClient
from tests.local_index import local_index
from tests.sdists import make_sdist
from tests.wheels import make_wheel

S390X = TargetEnvironment("3.11.7", "manylinux_2_17_s390x")


def _sdist(directory: Path, version: str, build_requires: list[str]) -> Path:
    root = f"alpha-{version}"
    requires = ", ".join(f'"{r}"' for r in build_requires)
    return make_sdist(
        directory,
        f"{root}.tar.gz",
        {
            f"{root}/pyproject.toml": (
                f'[build-system]\nrequires = [{requires}]\nbuild-backend = "backend"\n'
            ).encode(),
            f"{root}/PKG-INFO": (
                f"Metadata-Version: 2.2\nName: alpha\nVersion: {version}\n"
            ).encode(),
        },
    )


@pytest.fixture
def index(tmp_path):
    """alpha 2.0 needs a build backend newer than any released; alpha 1.0 needs one there is."""
    files = [
        _sdist(tmp_path, "2.0", ["backend>=9"]),
        _sdist(tmp_path, "1.0", ["backend>=1"]),
        make_wheel(tmp_path, "backend", "1.5"),
    ]
    with (
        local_index(files) as url,
        IndexClient([url], tmp_path / "cache", ttl=600) as client,
    ):
        yield client


def test_a_version_that_cannot_be_built_is_passed_over_for_one_that_can(index):
    dag = build_plan_dag([Requirement("alpha")], index, S390X)

    assert dag.nodes["alpha==1.0"]["action"] == "build"
    assert dag.nodes["alpha==1.0"]["build_requires"] == ["backend==1.5"]
    assert "alpha==2.0" not in dag.nodes
    (reason,) = dag.passed_over
    assert "build requirements of alpha==2.0" in reason
    assert "backend>=9" in reason
    assert dag.as_json()["passed_over"] == [reason]


def test_an_exact_pin_of_a_version_that_cannot_be_built_fails_with_the_reason(index):
    with pytest.raises(PlanError, match=r"build requirements of alpha==2\.0: .*backend>=9"):
        build_plan_dag([Requirement("alpha==2.0")], index, S390X)
