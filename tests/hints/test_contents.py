"""The Contents index: which Debian package ships a file, built from the archive's Contents
files fetched over HTTP, keeping only what repairs look up."""

from __future__ import annotations

import pytest

from hints.contents import ContentsError, ContentsIndex, build_index, classify, parse_line


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (b"usr/include/x86_64-linux-gnu/ffi.h", ("include", "ffi.h")),
        (b"usr/bin/pg_config", ("bin", "pg_config")),
        (b"sbin/ldconfig", ("bin", "ldconfig")),
        (b"usr/lib/x86_64-linux-gnu/pkgconfig/libffi.pc", ("pc", "libffi")),
        (b"usr/share/pkgconfig/xorg-macros.pc", ("pc", "xorg-macros")),
        (b"usr/lib/x86_64-linux-gnu/libpq.so", ("lib", "pq")),
        (b"usr/lib/x86_64-linux-gnu/libffi.a", ("lib", "ffi")),
        (b"usr/lib/x86_64-linux-gnu/cmake/Boost-1.74.0/BoostConfig.cmake", ("cmake", "boost")),
        (b"usr/share/cmake/eigen3/eigen3-config.cmake", ("cmake", "eigen3")),
        (b"usr/share/doc/libffi-dev/copyright", None),
        (b"usr/bin/subdir/tool", None),
        (b"usr/lib/x86_64-linux-gnu/libpq.so.5", None),
    ],
)
def test_only_the_paths_repairs_ask_about_are_kept(path, expected):
    assert classify(path) == expected


def test_a_contents_line_splits_on_its_last_whitespace():
    line = b"usr/share/fonts/My Font.ttf        fonts/fonts-a,libdevel/libfoo-dev\n"
    assert parse_line(line) == (b"usr/share/fonts/My Font.ttf", ["fonts-a", "libfoo-dev"])
    assert parse_line(b"no-location\n") is None


def test_an_index_is_built_from_a_mirror_and_answers_lookups(small_index):
    assert {(h.package, h.path) for h in small_index.header("ffi.h")} == {
        ("libffi-dev", "usr/include/x86_64-linux-gnu/ffi.h"),
        ("libbotan-2-dev", "usr/include/botan-2/botan/ffi.h"),
    }
    assert [h.package for h in small_index.header("libxml/xmlversion.h")] == ["libxml2-dev"]
    assert [h.package for h in small_index.pkgconfig("mysqlclient")] == ["libmariadb-dev-compat"]
    assert {h.package for h in small_index.program("curl-config")} == {
        "libcurl4-gnutls-dev",
        "libcurl4-nss-dev",
        "libcurl4-openssl-dev",
    }
    # Arch-independent packages come from Contents-all.
    assert {h.package for h in small_index.program("pg_config")} == {
        "libpq-dev",
        "postgresql-common",
    }
    assert {h.path for h in small_index.library("pq")} == {
        "usr/lib/x86_64-linux-gnu/libpq.a",
        "usr/lib/x86_64-linux-gnu/libpq.so",
    }
    assert small_index.has_package("libjpeg-dev")
    assert not small_index.has_package("libnothing-dev")
    assert small_index.source()["suite"] == "bookworm"


def test_a_header_asked_for_with_a_folder_keeps_its_folder(small_index):
    assert [h.path for h in small_index.header("gssapi/gssapi.h")] == [
        "usr/include/gssapi/gssapi.h",
        "usr/include/heimdal/gssapi/gssapi.h",
    ]
    assert small_index.header("other/gssapi.h") == []


def test_an_unreachable_mirror_is_a_clear_error(tmp_path):
    with pytest.raises(ContentsError, match=r"could not fetch http://127\.0\.0\.1:9/"):
        build_index("http://127.0.0.1:9", "bookworm", "amd64", tmp_path / "x.sqlite3")
    assert not (tmp_path / "x.sqlite3").exists()


def test_a_missing_index_is_named(tmp_path):
    with pytest.raises(ContentsError, match="no Contents index at"):
        ContentsIndex(tmp_path / "none.sqlite3")
