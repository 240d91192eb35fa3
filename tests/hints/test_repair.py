"""The repair decision on real failed logs: the next recipes, or a stop that says why."""

from __future__ import annotations

import pytest

from hints.models import Hint
from hints.repair import GIVE_UP, REPAIR, RETRY, RUNNER_CANNOT, SKIP, JobFacts, decide
from tests.factories import HintFactory
from tests.hints.conftest import log_lines

pytestmark = pytest.mark.django_db


def _facts(package: str, **changes) -> JobFacts:
    values = {
        "package": package,
        "preset": "debian-bookworm",
        "recipes": [],
        "origins": [],
        "rounds_done": 0,
        "max_rounds": 4,
        "can_install_system_packages": True,
        "installed": frozenset({"build-essential", "python3-dev"}),
    }
    return JobFacts(**{**values, **changes})


def _packages(decision) -> list[str]:
    return [p for r in decision.recipes if r["type"] == "system_packages" for p in r["packages"]]


def test_a_missing_header_is_repaired_with_the_package_that_ships_it(small_index):
    decision = decide(log_lines("cffi-1.16.0"), _facts("cffi"), small_index)
    assert decision.outcome == REPAIR
    assert decision.recipes == [{"type": "system_packages", "packages": ["libffi-dev"]}]
    (origin,) = decision.origins
    assert origin["problem"]["name"] == "ffi.h"
    assert origin["because"] == "usr/include/x86_64-linux-gnu/ffi.h"
    assert decision.candidates == {"missing_header:ffi.h": ["libffi-dev"]}
    assert decision.event_data()["problems"][0]["evidence"].endswith("No such file or directory")


def test_several_headers_of_one_library_are_fixed_by_its_one_package(small_index):
    swigged = [{"type": "system_packages", "packages": ["swig"]}]
    facts = _facts("m2crypto", recipes=swigged)
    decision = decide(log_lines("M2Crypto-0.41.0-round2"), facts, small_index)
    assert decision.outcome == REPAIR
    assert _packages(decision) == ["swig", "libssl-dev"]  # not boringssl for the 2nd header
    assert decision.candidates["missing_header:openssl/safestack.h"] == [
        "libssl-dev",
        "android-libboringssl-dev",
    ]


def test_the_catalog_adds_what_the_log_cannot_tell(small_index):
    decision = decide(log_lines("mysqlclient-2.2.4"), _facts("mysqlclient"), small_index)
    assert decision.outcome == REPAIR
    assert set(_packages(decision)) == {"pkgconf", "default-libmysqlclient-dev"}
    assert decision.hints == ["mysqlclient: MySQL/MariaDB client library"]
    assert any("hint" in origin for origin in decision.origins)


def test_a_cmake_find_module_that_failed_is_repaired_with_what_it_looks_for(small_index):
    cmake = [{"type": "system_packages", "packages": ["cmake"]}]
    facts = _facts("ssh2-python", recipes=cmake)
    decision = decide(log_lines("ssh2-python-1.2.0.post1-round2"), facts, small_index)
    assert decision.outcome == REPAIR
    assert _packages(decision) == ["cmake", "libssl-dev"]  # FindOpenSSL wants openssl/ssl.h


def test_a_library_named_only_in_prose_is_found_through_the_catalog(small_index):
    decision = decide(log_lines("bsddb3-6.2.9"), _facts("bsddb3"), small_index)
    assert decision.outcome == REPAIR
    assert _packages(decision) == ["libdb-dev"]
    assert decision.hints == ["Berkeley DB"]


def test_a_find_module_needing_two_packages_gets_both_and_no_lookalike(small_index):
    decision = decide(log_lines("pyopencl-2026.1.4"), _facts("pyopencl"), small_index)
    assert decision.outcome == REPAIR
    # the header from inference, the ICD loader's library from the catalog
    assert _packages(decision) == ["opencl-c-headers", "ocl-icd-opencl-dev"]
    assert decision.hints == ["OpenCL (CMake)"]


def test_autoreconf_spawned_by_a_setup_py_gets_the_whole_autotools_set(small_index):
    decision = decide(log_lines("pyjq-2.6.0"), _facts("pyjq"), small_index)
    assert decision.outcome == REPAIR
    assert set(_packages(decision)) >= {"autoconf", "automake", "libtool"}
    assert "autotools: autoreconf and friends" in decision.hints


def test_a_problem_that_persists_moves_on_to_the_next_candidate(small_index):
    tried = [{"type": "system_packages", "packages": ["libcurl4-openssl-dev", "libssl-dev"]}]
    decision = decide(log_lines("pycurl-7.45.3"), _facts("pycurl", recipes=tried), small_index)
    assert decision.outcome == REPAIR
    assert _packages(decision)[-1] == "libcurl4-nss-dev"


def test_nothing_new_to_try_ends_with_the_problems_listed(small_index):
    decision = decide(log_lines("typed-ast-1.4.3"), _facts("typed-ast"), small_index)
    assert decision.outcome == GIVE_UP
    assert decision.message == (
        "no repair found: missing header code.h (no package in the builder's suite ships it)"
    )


def test_an_unidentified_failure_ends_at_once(small_index):
    decision = decide(log_lines("pymssql-2.3.0"), _facts("pymssql"), small_index)
    assert decision.outcome == GIVE_UP
    assert "Some build dependencies" in decision.message


def test_the_round_limit_ends_a_repair_that_keeps_finding_new_things(small_index):
    decision = decide(log_lines("cffi-1.16.0"), _facts("cffi", rounds_done=4), small_index)
    assert decision.outcome == GIVE_UP
    assert "after 4 repair rounds (MAX_REPAIR_ROUNDS)" in decision.message


def test_the_local_runner_is_told_it_cannot_install_system_packages(small_index):
    facts = _facts("cffi", can_install_system_packages=False)
    decision = decide(log_lines("cffi-1.16.0"), facts, small_index)
    assert decision.outcome == RUNNER_CANNOT
    assert decision.message.startswith("needs system packages libffi-dev (missing header ffi.h")
    assert "--runner podman" in decision.message


def test_a_missing_python_module_becomes_a_build_requirement(small_index):
    decision = decide(log_lines("shapely-2.0.4"), _facts("shapely"), small_index)
    assert decision.outcome == REPAIR
    assert decision.recipes == [{"type": "build_requires", "requirements": ["setuptools<82"]}]


def test_a_python_module_waits_while_a_system_problem_is_being_fixed(small_index):
    decision = decide(log_lines("bcrypt-4.1.3"), _facts("bcrypt"), small_index)
    assert [r["type"] for r in decision.recipes] == ["system_packages"]
    assert set(_packages(decision)) == {"rustc-web", "cargo-web"}


def test_a_skip_hint_ends_the_job_as_a_known_failure(small_index):
    HintFactory(
        name="no CUDA here",
        pattern=r"fatal error: ffi\.h",
        recipes=[{"type": "skip", "reason": "needs a GPU toolkit"}],
    )
    decision = decide(log_lines("cffi-1.16.0"), _facts("cffi"), small_index)
    assert decision.outcome == SKIP
    assert decision.message == "known failure (no CUDA here): needs a GPU toolkit"


def test_a_network_hiccup_is_retried_not_repaired(small_index):
    lines = ["  ERROR: Could not fetch URL https://pypi.org/simple/cython/: connection error"]
    assert decide(lines, _facts("x"), small_index).outcome == RETRY


def test_without_an_index_the_catalog_still_helps(settings):
    decision = decide(log_lines("psycopg2-2.9.9"), _facts("psycopg2"), None)
    assert decision.outcome == REPAIR
    assert _packages(decision) == ["libpq-dev"]


def test_a_disabled_or_other_presets_hint_is_not_used(small_index):
    Hint.objects.filter(name="PostgreSQL client library").update(enabled=False)
    assert decide(log_lines("psycopg2-2.9.9"), _facts("psycopg2"), None).outcome == GIVE_UP
    Hint.objects.filter(name="PostgreSQL client library").update(enabled=True, preset="other")
    assert decide(log_lines("psycopg2-2.9.9"), _facts("psycopg2"), None).outcome == GIVE_UP
