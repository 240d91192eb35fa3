"""Typed problems read off real build logs (excerpts of builds run on the bare bookworm
builder), each with the line that shows it."""

from __future__ import annotations

import threading

import pytest

from hints.problems import find_problems, include_dirs
from tests.hints.conftest import log_lines

CASES = [
    ("cffi-1.16.0", [("missing_header", "ffi.h")]),
    ("pykerberos-1.2.4", [("missing_header", "gssapi/gssapi.h")]),
    ("hunspell-0.5.5", [("missing_header", "hunspell.hxx")]),
    ("pycurl-7.45.3", [("missing_program", "curl-config")]),
    ("mysqlclient-2.2.4", [("missing_program", "pkg-config")]),
    ("dbus-python-1.3.2", [("missing_program", "pkg-config"), ("missing_pkgconfig", "dbus-1")]),
    ("pycairo-1.26.0", [("missing_program", "pkg-config")]),
    ("xmlsec-1.3.14", [("missing_program", "pkg-config")]),
    # the same build once pkg-config was there: the library, named in a line of prose
    ("xmlsec-1.3.14-round2", [("missing_vague", "xmlsec1")]),
    ("libvirt-python-9.0.0", [("missing_program", "pkg-config")]),
    ("psycopg2-2.9.9", [("missing_program", "pg_config")]),
    ("gssapi-1.8.3", [("missing_program", "krb5-config")]),
    ("pyscard-2.0.9", [("missing_program", "swig")]),
    ("M2Crypto-0.41.0", [("missing_program", "swig")]),
    # the same build once swig was there: the headers swig itself could not find
    (
        "M2Crypto-0.41.0-round2",
        [
            ("missing_header", "openssl/opensslv.h"),
            ("missing_header", "openssl/safestack.h"),
            ("missing_header", "openssl/opensslconf.h"),
        ],
    ),
    ("lxml-5.2.2", [("missing_vague", "libxml2"), ("missing_vague", "libxslt")]),
    ("python-prctl-1.8.1", [("missing_vague", "libcap")]),
    ("Pillow-10.3.0", [("missing_vague", "jpeg")]),
    ("bcrypt-4.1.3", [("missing_toolchain", "rust"), ("missing_python_module", "pkg_resources")]),
    ("jellyfish-1.0.3", [("missing_toolchain", "rust"), ("unreachable_source", "network")]),
    ("shapely-2.0.4", [("missing_python_module", "pkg_resources")]),
    ("typed-ast-1.4.3", [("missing_header", "code.h")]),
    ("pymssql-2.3.0", [("build_error", "unidentified")]),
    ("h5py-3.11.0", [("missing_program", "pkg-config")]),
    # seen first in a run on sdists the corpus did not hold
    ("hidapi-0.15.0-round2", [("missing_pkgconfig", "libusb-1.0")]),
    ("netCDF4-1.7.2", [("missing_vague", "HDF5")]),
    # conan fetching OpenSSL from a host out of reach: no package fixes that
    ("sqlcipher3-0.6.4", [("unreachable_source", "network")]),
    # a config tool's failure pasted into the middle of a compile line
    ("kerberos-1.3.1", [("missing_program", "krb5-config")]),
    # CMake's OpenSSL module says its own words before "(missing: …)", over three lines
    ("ssh2-python-1.2.0.post1-round2", [("missing_cmake_package", "OpenSSL")]),
    # autoconf's failed checks right before its error (the prose names no file)
    ("pysam-0.24.1", [("missing_header", "bzlib.h"), ("missing_library", "bz2")]),
    # a setup.py spawning a program it does not have, as setuptools reports it
    ("pyjq-2.6.0", [("missing_program", "autoreconf")]),
]


@pytest.mark.parametrize(("log", "expected"), CASES)
def test_a_real_failure_is_read_as_its_typed_problems(log, expected):
    problems = find_problems(log_lines(log))
    assert [(p.kind, p.name) for p in problems] == expected
    for problem in problems:
        assert problem.evidence in "\n".join(log_lines(log))


def test_the_evidence_is_the_line_that_shows_the_problem():
    (problem,) = find_problems(log_lines("cffi-1.16.0"))
    assert problem.evidence == (
        "src/c/_cffi_backend.c:15:10: fatal error: ffi.h: No such file or directory"
    )
    assert log_lines("cffi-1.16.0")[problem.line - 1].strip() == problem.evidence


def test_compile_lines_tell_which_folders_the_build_searched():
    assert "/usr/include/hunspell" in include_dirs(log_lines("hunspell-0.5.5"))


def test_a_network_failure_is_transient_not_a_missing_distribution():
    lines = [
        "  WARNING: Retrying (Retry(total=0)) after connection broken by "
        "'NewConnectionError(\"Failed to establish a new connection: [Errno -3] Temporary "
        "failure in name resolution\")': /simple/cython/",
        "  ERROR: No matching distribution found for cython<3",
    ]
    assert [(p.kind, p.name) for p in find_problems(lines)] == [("transient", "network")]


def test_a_log_with_no_error_has_no_problem():
    assert find_problems(["Successfully built six", "done"]) == []


def test_a_hostile_line_is_read_in_linear_time():
    lines = ["fatal error: " + "a/" * 100_000, "Package " + "x" * 200_000, "No package '" * 50_000]
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(find_problems(lines)), daemon=True)
    worker.start()
    worker.join(10)
    assert done, "reading three hostile lines took over 10 s"


def test_a_configure_check_that_failed_before_one_that_passed_was_optional():
    lines = [
        "checking for sys/param.h... no",
        "checking for zlib.h... yes",
        "checking for lzma.h... no",
        "configure: error: liblzma development files not found",
    ]
    assert [(p.kind, p.name) for p in find_problems(lines)] == [("missing_header", "lzma.h")]
