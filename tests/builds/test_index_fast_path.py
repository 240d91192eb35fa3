"""Published pages are answered at the ASGI layer exactly as the Django view answers them;
anything else reaches Django."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest
from prometheus_client import REGISTRY

from builds.index.fast_path import IndexFastPath
from builds.index.publishing import refresh_project
from plans.models import Target
from tests.factories import ArtifactFactory, TargetFactory

pytestmark = pytest.mark.django_db
JSON = "application/vnd.pypi.simple.v1+json"


class Downstream:
    """The app behind the fast path (Django in production): records what reached it."""

    def __init__(self):
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send):
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _get(app, path, *, query=b"", method="GET", headers=(), host="testserver"):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [(k.encode(), v.encode()) for k, v in (("host", host), *headers)],
    }
    asyncio.run(app(scope, receive, send))
    start, body = sent
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body["body"]


@pytest.fixture
def published(settings, client):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    ArtifactFactory(target=target, name="demo", filename="demo-1.0-py3-none-any.whl")
    # The first request renders the pages (through Django); later ones find them published.
    django = client.get("/simple/demo/", HTTP_ACCEPT=JSON)
    client.get("/simple/")
    return django


def test_a_published_page_is_served_without_reaching_django(published):
    downstream = Downstream()
    app = IndexFastPath(downstream)

    status, headers, body = _get(app, "/simple/demo/", headers=[("accept", JSON)])

    assert downstream.paths == []
    assert status == 200
    assert body == published.content
    for name in ("Content-Type", "ETag", "Last-Modified", "Vary", "Cache-Control"):
        assert headers[name.lower()] == published[name]
    root_status, _, root = _get(app, "/simple/")
    assert root_status == 200
    assert b'<a href="demo/">demo</a>' in root


def test_the_fast_path_honours_conditional_get_and_head(published):
    app = IndexFastPath(Downstream())
    etag = published["ETag"]
    status, headers, body = _get(
        app, "/simple/demo/", headers=[("accept", JSON), ("if-none-match", etag)]
    )
    assert (status, body) == (304, b"")
    assert headers["etag"] == etag
    status, headers, body = _get(app, "/simple/demo/", method="HEAD", headers=[("accept", JSON)])
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(published.content))


def test_django_answers_a_revalidation_with_the_headers_the_fast_path_sends(published, client):
    etag = published["ETag"]
    status, headers, _ = _get(
        IndexFastPath(Downstream()),
        "/simple/demo/",
        headers=[("accept", JSON), ("if-none-match", etag)],
    )
    django = client.get("/simple/demo/", HTTP_ACCEPT=JSON, HTTP_IF_NONE_MATCH=etag)

    assert status == django.status_code == 304
    # RFC 9110 15.4.5: validators and caching headers, no content headers, from either path.
    assert "content-type" not in headers
    assert "Content-Type" not in django.headers
    for name in ("ETag", "Last-Modified", "Vary", "Cache-Control"):
        assert headers[name.lower()] == django[name], name


def test_a_repeated_request_gets_the_kept_answer_until_the_page_is_published_again(published):
    downstream = Downstream()
    app = IndexFastPath(downstream)
    first = _get(app, "/simple/demo/", headers=[("accept", JSON)])
    assert _get(app, "/simple/demo/", headers=[("accept", JSON)]) == first

    target = Target.objects.get(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    ArtifactFactory(target=target, name="demo", version="2.0")
    refresh_project("demo")

    status, _, body = _get(app, "/simple/demo/", headers=[("accept", JSON)])
    assert status == 200
    assert b"demo-2.0-py3-none-any.whl" in body
    assert b"demo-2.0-py3-none-any.whl" not in first[2]
    assert downstream.paths == []


def test_repeated_requests_look_at_no_page_file_until_a_page_is_published(
    published, index_pages, monkeypatch
):
    app = IndexFastPath(Downstream())
    _get(app, "/simple/demo/", headers=[("accept", JSON)])
    looked_at: list[str] = []
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        looked_at.append(str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    for _ in range(5):
        assert _get(app, "/simple/demo/", headers=[("accept", JSON)])[0] == 200
    assert not [path for path in looked_at if path.endswith("/demo.json")]

    target = Target.objects.get(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    ArtifactFactory(target=target, name="demo", version="2.0")
    refresh_project("demo")

    _, _, body = _get(app, "/simple/demo/", headers=[("accept", JSON)])
    assert b"demo-2.0-py3-none-any.whl" in body


def test_a_page_file_replaced_by_hand_is_served_within_a_second(published, index_pages):
    app = IndexFastPath(Downstream())
    _get(app, "/simple/demo/", headers=[("accept", JSON)])
    (page,) = index_pages.glob("*/demo.json")
    edited = page.with_name(".edited")
    edited.write_bytes(page.read_bytes().replace(b"demo-1.0", b"demo-1.0.post1"))
    os.replace(edited, page)

    time.sleep(1.1)

    _, _, body = _get(app, "/simple/demo/", headers=[("accept", JSON)])
    assert b"demo-1.0.post1" in body


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_running_server_serves_a_page_another_process_publishes_at_once(settings, start_refinery):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    ArtifactFactory(target=target, name="demo", filename="demo-1.0-py3-none-any.whl")
    refresh_project("demo")
    base = start_refinery()
    with httpx.Client(base_url=base, headers={"Accept": JSON}) as server:
        for _ in range(3):  # the server keeps its answer
            assert [f["filename"] for f in server.get("/simple/demo/").json()["files"]] == [
                "demo-1.0-py3-none-any.whl"
            ]

        ArtifactFactory(target=target, name="demo", version="2.0")
        refresh_project("demo")  # this process publishes, as a build worker does

        files = [f["filename"] for f in server.get("/simple/demo/").json()["files"]]
    assert files == ["demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl"]


def test_page_hits_reach_the_metrics_within_half_a_second(published):
    app = IndexFastPath(Downstream())
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/simple/demo/",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"accept", JSON.encode())],
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    def counted():
        return (
            REGISTRY.get_sample_value("refinery_index_cache_hits_total") or 0.0,
            REGISTRY.get_sample_value(
                "refinery_index_requests_total", {"kind": "page", "status": "200"}
            )
            or 0.0,
        )

    async def hits(count: int, pause: float = 0.0) -> None:
        for _ in range(count):
            await app(dict(scope), receive, send)
        await asyncio.sleep(pause)

    asyncio.run(hits(2, pause=0.6))  # a kept answer: what earlier tests left pending counts
    before_hits, before_pages = counted()
    asyncio.run(hits(3))  # a loop that ends before its flush is due
    asyncio.run(hits(5, pause=0.6))  # no hit follows: the flush scheduled on the loop runs
    assert counted() == (before_hits + 8, before_pages + 8)


def test_repeats_in_another_format_or_method_get_their_own_answers(published):
    app = IndexFastPath(Downstream())
    for _ in range(2):  # the second time from the kept answers
        _, json_headers, json_body = _get(app, "/simple/demo/", headers=[("accept", JSON)])
        _, html_headers, html_body = _get(app, "/simple/demo/", headers=[("accept", "text/html")])
        _, head_headers, head_body = _get(
            app, "/simple/demo/", method="HEAD", headers=[("accept", JSON)]
        )
        assert json_headers["content-type"] == JSON
        assert json_body == published.content
        assert html_headers["content-type"].startswith("text/html")
        assert b'<a href="' in html_body
        assert head_body == b""
        assert head_headers["content-length"] == str(len(published.content))


@pytest.mark.parametrize(
    ("path", "query", "accept"),
    [
        ("/simple/Demo/", b"", JSON),  # not normalized: Django redirects
        ("/simple/demo/", b"format=json", JSON),  # ?format=: Django decides
        ("/simple/unknown/", b"", JSON),  # never published: Django renders or 404s
        ("/simple/demo/", b"", "application/xml"),  # unacceptable: Django's 406
        ("/admin/", b"", JSON),
    ],
)
def test_everything_else_reaches_django(published, path, query, accept):
    downstream = Downstream()
    status, _, _ = _get(IndexFastPath(downstream), path, query=query, headers=[("accept", accept)])
    assert status == 599
    assert downstream.paths == [path]


def test_a_host_outside_allowed_hosts_is_left_to_django_which_refuses_it(published, client):
    downstream = Downstream()
    _get(IndexFastPath(downstream), "/simple/demo/", host="evil.example")
    assert downstream.paths == ["/simple/demo/"]
    assert client.get("/simple/demo/", HTTP_HOST="evil.example").status_code == 400


def test_fast_path_pages_carry_the_security_headers_django_adds(published, client):
    _, headers, _ = _get(IndexFastPath(Downstream()), "/simple/demo/", headers=[("accept", JSON)])
    django = client.get("/simple/demo/", HTTP_ACCEPT=JSON)
    for name in (
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
    ):
        assert headers[name.lower()] == django[name], name
    assert headers["x-frame-options"] == "DENY"


def test_over_https_the_fast_path_sends_hsts_and_leaves_plain_http_to_the_redirect(
    published, settings
):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    downstream = Downstream()
    app = IndexFastPath(downstream)
    _get(app, "/simple/demo/", headers=[("accept", JSON)])
    assert downstream.paths == ["/simple/demo/"]  # plain HTTP: Django redirects it
    _, headers, _ = _get(
        app, "/simple/demo/", headers=[("accept", JSON), ("x-forwarded-proto", "https")]
    )
    assert headers["strict-transport-security"] == "max-age=3600"
