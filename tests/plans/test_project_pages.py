"""How a PEP 691 page becomes the files the resolver sees, fresh and from the page cache."""

import json

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from plans.project_pages import (
    MalformedPage,
    ProjectPage,
    decode_cached,
    encode_cached,
    group_page_json,
    with_fetched_at,
)

PAGE_URL = "https://index.example/simple/demo-pkg/"
SHA = "a" * 64
NAME = canonicalize_name("demo-pkg")


def _file(filename: str, **extra: object) -> dict[str, object]:
    return {"filename": filename, "url": f"../../files/{filename}", "hashes": {"sha256": SHA}} | (
        extra
    )


def _page(*files: dict[str, object]) -> bytes:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "demo-pkg", "files": files}).encode()


def _project(body: bytes) -> ProjectPage:
    return ProjectPage(NAME, [(PAGE_URL, group_page_json(body))])


def test_versions_come_from_wheels_and_sdists_of_the_project():
    page = _project(
        _page(
            _file("demo_pkg-1.0-py3-none-any.whl"),
            _file("demo-pkg-1.1.tar.gz"),
            _file("Demo.Pkg-2.0rc1-cp311-cp311-manylinux_2_17_s390x.whl"),
        )
    )
    assert sorted(page.versions) == [Version("1.0"), Version("1.1"), Version("2.0rc1")]
    (wheel,) = page.files_for(Version("2.0rc1"))
    assert wheel.is_wheel
    assert wheel.name == "demo-pkg"


def test_files_of_other_systems_projects_and_formats_are_left_out():
    page = _project(
        _page(
            _file("demo_pkg-1.0-cp311-cp311-win_amd64.whl"),
            _file("demo_pkg-1.0-cp311-cp311-macosx_11_0_arm64.whl"),
            _file("other_pkg-1.0-py3-none-any.whl"),
            _file("demo-pkg-1.0.exe"),
            _file("demo_pkg-1.0-py3-none-any.whl", hashes={"md5": "0" * 32}),
            _file("demo_pkg-notaversion-py3-none-any.whl"),
            _file("demo_pkg-1.0-py3-none-any.whl"),
        )
    )
    assert page.versions == [Version("1.0")]
    assert [f.filename for f in page.files] == ["demo_pkg-1.0-py3-none-any.whl"]


def test_relative_urls_resolve_against_the_page_and_fields_are_kept():
    page = _project(
        _page(
            _file(
                "demo_pkg-1.0-py3-none-any.whl",
                size=123,
                **{"requires-python": ">=3.9", "upload-time": "2024-01-02T03:04:05Z"},
                yanked="broken",
                **{"core-metadata": {"sha256": "b" * 64}},
            )
        )
    )
    (dist,) = page.files
    assert dist.url == "https://index.example/files/demo_pkg-1.0-py3-none-any.whl"
    assert (dist.size, dist.requires_python, dist.upload_time) == (
        123,
        ">=3.9",
        "2024-01-02T03:04:05Z",
    )
    assert dist.yanked
    assert dist.core_metadata
    assert page.find(SHA) == dist


def test_a_page_that_is_not_pep_691_json_is_refused_with_the_reason():
    with pytest.raises(MalformedPage, match="files"):
        group_page_json(b'{"files": [{"filename": 3}]}')
    with pytest.raises(MalformedPage):
        group_page_json(b"<html>not json</html>")


def test_the_cached_form_gives_the_same_files_and_keeps_versions_encoded_until_used():
    body = _page(
        _file("demo_pkg-1.0-py3-none-any.whl", size=10),
        _file("demo-pkg-1.0.tar.gz"),
        _file("demo_pkg-2.0-py3-none-any.whl", yanked=True),
    )
    fresh = _project(body)
    data = encode_cached(PAGE_URL, 1000.0, '"etag"', None, group_page_json(body))
    cached = decode_cached(data)
    assert (cached.url, cached.fetched_at, cached.etag, cached.last_modified) == (
        PAGE_URL,
        1000.0,
        '"etag"',
        None,
    )
    from_cache = ProjectPage(NAME, [(cached.url, cached.groups)])
    assert from_cache.files == fresh.files
    assert decode_cached(with_fetched_at(data, 2000.0)).fetched_at == 2000.0


def test_a_corrupt_cache_file_is_reported_as_malformed():
    with pytest.raises(MalformedPage):
        decode_cached(b"\x00garbage")
