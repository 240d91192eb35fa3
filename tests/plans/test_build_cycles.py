"""A loop among packages that must all be built is reported with the cycle."""

from __future__ import annotations

import pytest

from plans.dag import PlanError
from plans.plan_resolution import _check_build_cycles


def test_a_cycle_among_packages_to_build_names_every_step():
    needs_before = {
        "a==1": {"b==1", "setuptools==80"},
        "b==1": {"c==1"},
        "c==1": {"a==1"},
    }
    with pytest.raises(PlanError, match=r"build cycle .*: a==1 -> b==1 -> c==1 -> a==1"):
        _check_build_cycles(needs_before)


def test_a_package_needing_itself_to_build_is_reported():
    with pytest.raises(PlanError, match=r"numpy==2\.1\.3 needs itself to build"):
        _check_build_cycles({"numpy==2.1.3": {"numpy==2.1.3", "cython==3"}})


def test_reused_build_backends_break_loops():
    # setuptools is reused (a py3-none-any wheel), so it is not among the nodes to build.
    _check_build_cycles({"a==1": {"setuptools==80", "b==1"}, "b==1": {"setuptools==80"}})
