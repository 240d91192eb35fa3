"""Planning for IBM Z against real PyPI: what exists is reused, the rest is built with its
build requirements resolved for the target too."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from inputs.target_env import TargetEnvironment
from plans.dag import PlanError, build_plan_dag, parse_overrides
from plans.index_client import IndexClient
from plans.plan_overrides import Overrides

pytestmark = [pytest.mark.network]

S390X = TargetEnvironment("3.11", "manylinux_2_17_s390x")


def _plan(index: IndexClient, *requirements: str, **kwargs):
    dag = build_plan_dag([Requirement(r) for r in requirements], index, S390X, **kwargs).as_json()
    return {n["name"]: n for n in dag["nodes"]}, dag["edges"]


def test_numpy_is_built_and_pyyaml_reused_with_numpys_build_requirements_as_nodes(index):
    nodes, edges = _plan(index, "numpy==2.1.3", "pyyaml==6.0.2")

    assert nodes["numpy"]["action"] == "build"
    assert nodes["numpy"]["source"]["filename"] == "numpy-2.1.3.tar.gz"
    assert len(nodes["numpy"]["source"]["sha256"]) == 64
    assert nodes["pyyaml"]["action"] == "reuse"
    assert "manylinux_2_17_s390x" in nodes["pyyaml"]["source"]["filename"]
    build_edges = {(e["from"], e["to"]) for e in edges if e["kind"] == "build"}
    numpy_builds_with = {to.split("==")[0] for frm, to in build_edges if frm == "numpy==2.1.3"}
    assert {"cython", "meson-python"} <= numpy_builds_with
    for name in numpy_builds_with:
        assert "build" in nodes[name]["roles"]


def test_a_c_extension_without_s390x_wheels_gets_its_legacy_setuptools_build_requirement(index):
    nodes, edges = _plan(index, "markupsafe==2.1.5")
    assert nodes["markupsafe"]["action"] == "build"
    assert {
        "from": "markupsafe==2.1.5",
        "to": f"setuptools=={nodes['setuptools']['version']}",
        "kind": "build",
    } in edges
    # setuptools is a py3-none-any wheel: reused, so the bootstrap loop never starts.
    assert nodes["setuptools"]["action"] == "reuse"


def test_a_yanked_release_is_skipped_unless_pinned_exactly(index):
    nodes, _ = _plan(index, "requests>=2.31,<2.32.2")
    assert nodes["requests"]["version"] == "2.31.0"  # 2.32.0 and 2.32.1 are yanked
    nodes, _ = _plan(index, "requests==2.32.1")
    assert nodes["requests"]["version"] == "2.32.1"


def test_requires_python_of_the_target_is_honoured(index):
    old = TargetEnvironment("3.8", "manylinux_2_17_s390x")
    dag = build_plan_dag([Requirement("django<6")], index, old).as_json()
    django = next(n for n in dag["nodes"] if n["name"] == "django")
    assert django["version"].startswith("4.2.")  # Django 5 requires Python >= 3.10


def test_overrides_force_a_version_and_exclude_a_package(index):
    overrides = parse_overrides({"force": {"urllib3": "1.26.20"}, "exclude": ["idna"]})
    nodes, _ = _plan(index, "requests==2.32.3", overrides=overrides)
    assert nodes["urllib3"]["version"] == "1.26.20"
    assert "idna" not in nodes


def test_more_packages_than_max_deps_is_a_clear_error(index):
    with pytest.raises(PlanError, match="more than MAX_DEPS=3 packages"):
        _plan(index, "requests==2.32.3", max_deps=3)


def test_a_conflict_names_the_chain_of_requirements_that_led_to_it(index):
    with pytest.raises(PlanError) as direct:
        _plan(index, "django==5.2", "asgiref==3.7.2")
    assert "django==5.2 requires asgiref>=3.8" in str(direct.value)
    assert "the file pins asgiref==3.7.2" in str(direct.value)

    with pytest.raises(PlanError) as deep:
        _plan(index, "flask==3.0.0", "markupsafe==1.1.1")
    message = str(deep.value)
    assert "flask==3.0.0 requires Jinja2>=3.1.2; jinja2==" in message
    assert "requires MarkupSafe>=2.0" in message
    assert "the file pins markupsafe==1.1.1" in message


def test_an_unknown_project_and_an_impossible_pin_say_so(index):
    with pytest.raises(Exception, match="no project named 'this-package-does-not-exist-42'"):
        _plan(index, "this-package-does-not-exist-42")
    with pytest.raises(PlanError, match="no version of six matching it can be installed"):
        _plan(index, "six==99")


def test_a_hash_pin_makes_the_plan_use_the_file_with_that_hash(index):
    sdist_only = "1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926"
    forced = Overrides(hashes={canonicalize_name("six"): frozenset({sdist_only})})
    nodes, _ = _plan(index, "six==1.16.0", overrides=forced)
    assert nodes["six"]["action"] == "build"
    assert nodes["six"]["source"]["sha256"] == sdist_only

    with pytest.raises(PlanError, match="matches the file's --hash values"):
        _plan(
            index,
            "six==1.16.0",
            overrides=Overrides(hashes={canonicalize_name("six"): frozenset({"0" * 64})}),
        )
