"""From a problem to the packages that fix it, ranked by rules a packager would apply."""

from __future__ import annotations

import pytest

from hints.candidates import candidates_for
from hints.problems import Problem, find_problems, include_dirs
from tests.hints.conftest import log_lines


def _problem(kind: str, name: str) -> Problem:
    return Problem(kind, name, "evidence", 1)


@pytest.mark.parametrize(
    ("kind", "name", "best"),
    [
        # the exact path (the architecture's include folder counts) before a deeper one
        ("missing_header", "ffi.h", ["libffi-dev"]),
        # MIT Kerberos, the default, before Heimdal
        ("missing_program", "krb5-config", ["libkrb5-dev", "heimdal-dev"]),
        # ... and Heimdal's copy, deeper in its own tree, is no candidate at all
        ("missing_header", "gssapi/gssapi.h", ["libkrb5-dev"]),
        # OpenSSL's curl before GnuTLS's and NSS's
        (
            "missing_program",
            "curl-config",
            ["libcurl4-openssl-dev", "libcurl4-nss-dev", "libcurl4-gnutls-dev"],
        ),
        # the -dev package before the tool that merely has the same name
        ("missing_program", "pg_config", ["libpq-dev", "postgresql-common"]),
        ("missing_pkgconfig", "mysqlclient", ["libmariadb-dev-compat"]),
        ("missing_library", "pq", ["libpq-dev"]),
        # prose that names a library: its package, found by name
        ("missing_vague", "libxslt", ["libxslt1-dev"]),
        ("missing_vague", "libcap", ["libcap-dev"]),
        ("missing_vague", "jpeg", ["libjpeg-dev"]),
        # a CMake package by its config file; a find module by what it looks for
        ("missing_cmake_package", "Eigen3", ["libeigen3-dev", "libinsighttoolkit5-dev"]),
        ("missing_cmake_package", "PkgConfig", ["pkgconf"]),
        # a toolchain is its packages: rustc-web with cargo-web (bookworm's rustc is older)
        ("missing_toolchain", "rust", ["rustc-web"]),
    ],
)
def test_candidates_are_ranked_as_a_packager_would(small_index, kind, name, best):
    found = candidates_for(_problem(kind, name), small_index)
    assert found.packages[: len(best)] == best


def test_a_pkgconfig_module_brings_pkg_config_along(small_index):
    found = candidates_for(_problem("missing_pkgconfig", "mysqlclient"), small_index)
    assert found.companions == ["pkgconf"]


def test_a_toolchain_brings_all_its_parts(small_index):
    found = candidates_for(_problem("missing_toolchain", "rust"), small_index)
    assert (found.packages, found.companions) == (["rustc-web"], ["cargo-web"])


def test_what_the_image_has_is_never_a_candidate(small_index):
    found = candidates_for(
        _problem("missing_program", "pg_config"), small_index, installed=frozenset({"libpq-dev"})
    )
    assert found.packages == ["postgresql-common"]


def test_a_bare_header_deeper_in_the_tree_counts_only_where_the_build_searched(small_index):
    lines = log_lines("hunspell-0.5.5")
    (problem,) = find_problems(lines)
    searched = candidates_for(problem, small_index, include_dirs=include_dirs(lines))
    assert searched.packages == ["libhunspell-dev"]
    assert candidates_for(problem, small_index).packages == []


def test_a_header_only_an_alternative_python_ships_has_no_candidate(small_index):
    """sasl 0.3.1 includes longintrepr.h, which CPython 3.11 moved: pypy's copy is no fix."""
    found = candidates_for(_problem("missing_header", "longintrepr.h"), small_index)
    assert found.packages == []
    lines = log_lines("typed-ast-1.4.3")
    (problem,) = find_problems(lines)
    assert candidates_for(problem, small_index, include_dirs=include_dirs(lines)).packages == []
