"""/simple/: PEP 503 HTML and PEP 691 JSON of what the store holds, per target, with every
field pip and uv read, conditional GET, and pages that follow publishes and yanks."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from builds.index import publishing
from tests.factories import ArtifactFactory, TargetFactory

pytestmark = pytest.mark.django_db

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
UV_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def x86(settings):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    return TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")


@pytest.fixture
def s390x():
    return TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_s390x")


def _wheel(target, name="demo", version="1.0", tag="py3-none-any", **kwargs):
    filename = f"{name.replace('-', '_')}-{version}-{tag}.whl"
    return ArtifactFactory(
        target=target, name=name, version=version, filename=filename, tags=[tag], **kwargs
    )


def test_pip_and_uv_get_json_and_a_browser_gets_html(client, x86):
    _wheel(x86)
    for accept in (PIP_ACCEPT, UV_ACCEPT):
        response = client.get("/simple/demo/", HTTP_ACCEPT=accept)
        assert response["Content-Type"] == JSON
        assert response["Vary"] == "Accept"
    browser = client.get("/simple/demo/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert browser["Content-Type"] == "text/html; charset=utf-8"
    assert client.get("/simple/demo/")["Content-Type"] == "text/html; charset=utf-8"
    html_first = (
        "application/vnd.pypi.simple.v1+html;q=0.9, application/vnd.pypi.simple.v1+json;q=0.5"
    )
    negotiated = client.get("/simple/demo/", HTTP_ACCEPT=html_first)
    assert negotiated["Content-Type"] == "application/vnd.pypi.simple.v1+html"
    latest = client.get("/simple/demo/", HTTP_ACCEPT="application/vnd.pypi.simple.latest+json")
    assert latest["Content-Type"] == JSON


def test_the_format_query_overrides_accept_and_a_bad_one_is_a_406(client, x86):
    _wheel(x86)
    forced = client.get(f"/simple/demo/?format={JSON}", HTTP_ACCEPT="text/html")
    assert forced["Content-Type"] == JSON
    assert client.get("/simple/demo/?format=json")["Content-Type"] == JSON
    bad = client.get("/simple/demo/?format=yaml")
    assert bad.status_code == 406
    assert "format='yaml' is not a format we serve" in bad.content.decode()


def test_an_unacceptable_type_is_a_406_listing_what_we_serve(client, x86):
    _wheel(x86)
    response = client.get("/simple/demo/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert "application/vnd.pypi.simple.v1+json" in response.content.decode()


def test_a_non_normalized_name_redirects_to_the_normalized_url(client, x86):
    _wheel(x86, name="zope-interface")
    response = client.get("/simple/Zope.Interface/?format=json")
    assert response.status_code == 301
    assert response["Location"] == "/simple/zope-interface/?format=json"
    assert client.get("/simple/zope_interface/")["Location"] == "/simple/zope-interface/"


def test_an_unknown_project_or_target_is_a_404(client, x86):
    assert client.get("/simple/nothing-here/").status_code == 404
    assert client.get("/simple/A%0D%0ALocation:x/").status_code == 404  # not a name at all
    assert client.get("/t/cp311-manylinux_2_17_ppc64le/simple/").status_code == 404


def test_the_json_page_carries_hashes_metadata_yanks_sizes_and_upload_times(client, x86):
    uploaded = timezone.now() - timedelta(days=3)
    _wheel(x86, version="1.0", requires_python=">=3.8", uploaded_at=uploaded, size=4321)
    _wheel(x86, version="1.1", yanked=True, yanked_reason="broken on s390x")
    _wheel(x86, version="1.2", yanked=True, yanked_reason="")

    page = client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()

    assert page["meta"] == {"api-version": "1.1"}
    assert page["name"] == "demo"
    assert page["versions"] == ["1.0", "1.1", "1.2"]
    first, second, third = page["files"]
    assert first["url"] == f"../../files/{first['hashes']['sha256']}/demo-1.0-py3-none-any.whl"
    assert first["requires-python"] == ">=3.8"
    assert first["size"] == 4321
    assert first["upload-time"] == uploaded.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert first["core-metadata"] == first["dist-info-metadata"]
    assert first["yanked"] is False
    assert second["yanked"] == "broken on s390x"
    assert third["yanked"] is True


def test_the_html_page_carries_the_same_facts_escaped(client, x86):
    wheel = _wheel(x86, requires_python=">=3.8,<4")
    _wheel(x86, version="2.0", yanked=True, yanked_reason='says "no" & <means> it')

    html = client.get("/simple/demo/", HTTP_ACCEPT="text/html").content.decode()

    assert '<meta name="pypi:repository-version" content="1.1">' in html
    assert f"#sha256={wheel.sha256}" in html
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in html
    assert f'data-core-metadata="sha256={wheel.metadata_sha256}"' in html
    assert 'data-yanked="says &quot;no&quot; &amp; &lt;means&gt; it"' in html


def test_the_metadata_file_is_the_one_its_hash_names(client, x86):
    wheel = _wheel(x86)
    page = client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()
    url = "/" + page["files"][0]["url"].removeprefix("../../") + ".metadata"
    served = client.get(url).content
    assert hashlib.sha256(served).hexdigest() == page["files"][0]["core-metadata"]["sha256"]
    assert served == wheel.core_metadata.encode()


def test_the_project_list_names_every_project_of_the_target(client, x86, s390x):
    _wheel(x86, name="alpha")
    _wheel(x86, name="beta", tag="cp311-cp311-manylinux_2_17_x86_64")
    _wheel(s390x, name="gamma", tag="cp311-cp311-manylinux_2_17_s390x")

    listed = client.get("/simple/", HTTP_ACCEPT=JSON).json()
    assert [p["name"] for p in listed["projects"]] == ["alpha", "beta"]
    html = client.get("/simple/").content.decode()
    assert '<a href="alpha/">alpha</a>' in html
    s390x_list = client.get("/t/cp311-manylinux_2_17_s390x/simple/", HTTP_ACCEPT=JSON).json()
    assert [p["name"] for p in s390x_list["projects"]] == ["alpha", "gamma"]


def test_each_target_has_its_own_index_and_pure_wheels_serve_them_all(client, x86, s390x):
    _wheel(x86, name="six", version="1.16.0", tag="py2.py3-none-any")
    _wheel(s390x, name="markupsafe", version="2.1.5", tag="cp311-cp311-manylinux_2_17_s390x")

    prefix = "/t/cp311-manylinux_2_17_s390x/simple"
    assert client.get(f"{prefix}/six/").status_code == 200
    page = client.get(f"{prefix}/markupsafe/", HTTP_ACCEPT=JSON).json()
    assert page["files"][0]["filename"].endswith("manylinux_2_17_s390x.whl")
    assert client.get("/simple/markupsafe/").status_code == 404  # not for x86_64


def test_a_file_name_has_one_content_so_one_link(client, x86):
    first = _wheel(x86)
    with pytest.raises(IntegrityError), transaction.atomic():
        _wheel(x86)  # other bytes, same file name: the store refuses them
    files = client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()["files"]
    assert [f["hashes"]["sha256"] for f in files] == [first.sha256]


def test_conditional_get_answers_304_until_the_page_changes(
    client, x86, django_capture_on_commit_callbacks
):
    wheel = _wheel(x86)
    first = client.get("/simple/demo/", HTTP_ACCEPT=JSON)
    etag, modified = first["ETag"], first["Last-Modified"]

    assert client.get("/simple/demo/", HTTP_ACCEPT=JSON, HTTP_IF_NONE_MATCH=etag).status_code == 304
    since = client.get("/simple/demo/", HTTP_ACCEPT=JSON, HTTP_IF_MODIFIED_SINCE=modified)
    assert since.status_code == 304
    html = client.get("/simple/demo/", HTTP_IF_NONE_MATCH=etag)
    assert html.status_code == 200  # another representation, another ETag

    with django_capture_on_commit_callbacks(execute=True):
        publishing.yank(wheel, "bad build")
    after = client.get("/simple/demo/", HTTP_ACCEPT=JSON, HTTP_IF_NONE_MATCH=etag)
    assert after.status_code == 200
    assert after.json()["files"][0]["yanked"] == "bad build"


def test_a_publish_and_a_yank_show_up_in_both_formats_at_once(
    client, x86, django_capture_on_commit_callbacks
):
    first = _wheel(x86)
    assert len(client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()["files"]) == 1
    with django_capture_on_commit_callbacks(execute=True):
        second = _wheel(x86, version="2.0")
        publishing.refresh_after_commit("demo")
    assert len(client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()["files"]) == 2

    with django_capture_on_commit_callbacks(execute=True):
        publishing.yank(second, "regression")
    assert 'data-yanked="regression"' in client.get("/simple/demo/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        publishing.unyank(second)
    assert "data-yanked" not in client.get("/simple/demo/").content.decode()
    assert first.yanked is False


def test_head_gives_the_headers_without_the_body(client, x86):
    _wheel(x86)
    response = client.head("/simple/demo/", HTTP_ACCEPT=JSON)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response["Content-Length"]) > 0


def test_rebuilding_every_page_drops_pages_of_projects_that_are_gone(x86, index_pages):
    wheel = _wheel(x86)
    assert publishing.rebuild_all() == 1
    slug = "cp311-manylinux_2_17_x86_64"
    assert (index_pages / slug / "demo.json").exists()
    wheel.delete()
    assert publishing.rebuild_all() == 0
    assert not (index_pages / slug / "demo.json").exists()
    assert json.loads((index_pages / slug / "_root.json").read_bytes())["projects"] == []


def test_the_project_list_follows_a_project_s_first_and_last_file_and_nothing_else(
    x86, index_pages
):
    slug = "cp311-manylinux_2_17_x86_64"
    root = index_pages / slug / "_root.json"

    def listed() -> list[str]:
        return [p["name"] for p in json.loads(root.read_bytes())["projects"]]

    _wheel(x86, name="alpha")
    publishing.refresh_project("alpha")
    assert listed() == ["alpha"]
    before = root.stat()

    _wheel(x86, name="alpha", version="2.0")
    with CaptureQueriesContext(connection) as queries:
        publishing.refresh_project("alpha")  # a new version of a listed project
    after = root.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # Only alpha's own files were read, not every project's (a scan of the whole store).
    store_reads = [q["sql"] for q in queries.captured_queries if "builds_artifact" in q["sql"]]
    assert store_reads
    assert all("alpha" in sql for sql in store_reads)
    assert b"alpha-2.0" in (index_pages / slug / "alpha.json").read_bytes()

    beta = _wheel(x86, name="beta")
    publishing.refresh_project("beta")  # a project's first file
    assert listed() == ["alpha", "beta"]

    beta.delete()
    publishing.refresh_project("beta")  # its last file gone
    assert listed() == ["alpha"]
    assert not (index_pages / slug / "beta.json").exists()
