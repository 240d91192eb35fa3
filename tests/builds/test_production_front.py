"""The production front (nginx, from ``manage.py front_config``) answers every kind of index
request exactly as the app does, and keeps serving published pages when the app is down."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from builds.index import publishing
from builds.index.front import FrontOptions, front_config
from tests.factories import ArtifactFactory, TargetFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PIP = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
UV = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
JSON = "application/vnd.pypi.simple.v1+json"
# Set by each server for its own connection, or new on every request: not part of the answer.
TRANSPORT = {"date", "server", "connection", "keep-alive", "transfer-encoding", "x-request-id"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_nginx(directory: Path, site: str, port: int) -> subprocess.Popen[bytes]:
    (directory / "front.conf").write_text(site)
    # Workers run as root only here: the test's folders are private to the test's user.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (directory / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {directory}/nginx.pid;\n"
        f"error_log {directory}/error.log warn;\nevents {{}}\n"
        "http {\n    access_log off;\n"
        + "".join(
            f"    {kind}_temp_path {directory}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {directory}/front.conf;\n}}\n"
    )
    nginx = subprocess.Popen(
        ["nginx", "-p", str(directory), "-c", str(directory / "nginx.conf"), "-g", "daemon off;"]
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return nginx
        except OSError:
            if nginx.poll() is not None or time.monotonic() > deadline:
                log = (
                    (directory / "error.log").read_text()
                    if (directory / "error.log").exists()
                    else ""
                )
                raise RuntimeError(f"nginx did not start: {log}") from None
            time.sleep(0.1)


@pytest.fixture
def https_settings(settings) -> dict[str, str]:
    """Served over HTTPS behind a TLS proxy: HSTS, plain HTTP redirected, the proxy trusted."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return {"PUBLIC_URL": "https://refinery.example", "TRUST_X_FORWARDED_PROTO": "true"}


@pytest.fixture
def front(request, settings, start_refinery, tmp_path):
    """(the app's base URL, the front's base URL, the app's process); the app's environment
    comes from an ``app_env`` fixture when the test asks for one."""
    assert shutil.which("nginx"), "nginx is missing: apt-get install nginx-light"
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    here = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    there = TargetFactory(python_version="3.12", platform_tag="manylinux_2_28_s390x")
    ArtifactFactory(target=here, name="demo", version="1.0")
    ArtifactFactory(target=here, name="demo", version="1.1")
    ArtifactFactory(target=there, name="other", version="2.0")
    publishing.rebuild_all()
    app_env = (
        request.getfixturevalue("https_settings")
        if "https_settings" in request.fixturenames
        else {}
    )
    app = start_refinery(env=app_env)
    port = _free_port()
    directory = tmp_path / "nginx"
    directory.mkdir()
    site = front_config(FrontOptions(upstream=urlsplit(app).netloc, listen=str(port)))
    nginx = _start_nginx(directory, site, port)
    yield app, f"http://127.0.0.1:{port}", start_refinery.servers[-1]
    nginx.terminate()
    nginx.wait(timeout=20)


def _answer(base: str, method: str, path: str, headers: dict[str, str]):
    # One Host for both servers (they listen on different ports), so redirects compare.
    response = httpx.request(
        method, base + path, headers={"Host": "localhost", **headers}, timeout=10
    )
    kept = {k: v for k, v in response.headers.items() if k not in TRANSPORT}
    return response.status_code, kept, response.content


def _page_requests(app: str) -> list[tuple[str, str, dict[str, str]]]:
    """Requests the front answers from the page store itself."""
    current = httpx.get(f"{app}/simple/demo/", headers={"Accept": JSON})
    etag, modified = current.headers["ETag"], current.headers["Last-Modified"]
    return [
        ("GET", "/simple/", {}),
        ("GET", "/simple/", {"Accept": "text/html"}),
        ("GET", "/simple/demo/", {"Accept": PIP}),
        ("GET", "/simple/demo/", {"Accept": UV}),
        ("GET", "/simple/demo/", {"Accept": JSON}),
        ("GET", "/simple/demo/", {"Accept": "*/*"}),
        ("HEAD", "/simple/demo/", {"Accept": PIP}),
        ("GET", "/t/cp312-manylinux_2_28_s390x/simple/other/", {"Accept": PIP}),
        ("GET", "/t/cp312-manylinux_2_28_s390x/simple/", {"Accept": "text/html"}),
        ("GET", "/simple/demo/", {"Accept": JSON, "If-None-Match": etag}),
        ("GET", "/simple/demo/", {"Accept": JSON, "If-None-Match": f"W/{etag}"}),
        ("GET", "/simple/demo/", {"Accept": JSON, "If-None-Match": '"stale", *'}),
        ("GET", "/simple/demo/", {"Accept": JSON, "If-None-Match": '"stale"'}),
        ("GET", "/simple/demo/", {"Accept": JSON, "If-Modified-Since": modified}),
        ("GET", "/simple/demo/", {"Accept": JSON, "If-Modified-Since": formatdate(0, usegmt=True)}),
        ("GET", "/simple/demo/", {"Accept": JSON, "If-Modified-Since": "not a date"}),
    ]


def _app_requests(app: str) -> list[tuple[str, str, dict[str, str]]]:
    """Requests the front hands to the app."""
    current = httpx.get(f"{app}/simple/demo/", headers={"Accept": JSON})
    etag = current.headers["ETag"]
    return [
        ("GET", "/simple/demo/", {"Accept": "application/vnd.pypi.simple.v1+html"}),
        (
            "GET",
            "/simple/demo/",
            {"Accept": "text/html;q=0.5, application/vnd.pypi.simple.v1+json"},
        ),
        ("GET", "/simple/demo/", {"Accept": "application/json"}),
        ("GET", "/simple/demo/?format=json", {}),
        (
            "GET",
            "/simple/demo/",
            {
                "Accept": JSON,
                "If-None-Match": etag,
                "If-Modified-Since": formatdate(0, usegmt=True),
            },
        ),
        ("GET", "/simple/Demo/", {"Accept": PIP}),
        ("GET", "/simple/demo", {"Accept": PIP}),
        ("GET", "/simple/nothing-here/", {"Accept": PIP}),
        ("GET", "/simple/demo/", {"Accept": PIP, "Host": "evil.example"}),
        ("POST", "/simple/demo/", {"Accept": PIP}),
        ("GET", "/api/health", {}),
    ]


def test_the_front_answers_every_kind_of_index_request_exactly_as_the_app(front):
    app, proxy, _ = front
    for method, path, headers in [*_page_requests(app), *_app_requests(app)]:
        ours = _answer(app, method, path, headers)
        theirs = _answer(proxy, method, path, headers)
        assert theirs == ours, f"{method} {path} {headers}: {theirs[1]} != {ours[1]}"


def test_the_front_serves_published_pages_itself_when_the_app_is_down(front):
    app, proxy, server = front
    pages = _page_requests(app)
    expected = [_answer(app, method, path, headers) for method, path, headers in pages]
    others = _app_requests(app)
    server.terminate()
    server.wait(timeout=60)

    assert [_answer(proxy, m, p, h) for m, p, h in pages] == expected
    assert {_answer(proxy, m, p, h)[0] for m, p, h in others} == {502}


@pytest.mark.usefixtures("https_settings")
def test_behind_a_tls_proxy_the_front_redirects_and_adds_hsts_as_the_app_does(front):
    app, proxy, _ = front
    secure = {"X-Forwarded-Proto": "https"}
    requests = [
        ("GET", "/simple/demo/", {"Accept": PIP, **secure}),
        ("GET", "/simple/", {**secure}),
        ("GET", "/simple/demo/", {"Accept": PIP, "X-Forwarded-Proto": "https, http"}),
        ("GET", "/simple/demo/", {"Accept": PIP}),  # plain HTTP: redirected by the app
        ("GET", "/simple/demo/", {"Accept": PIP, "X-Forwarded-Proto": "http"}),
    ]
    answers = []
    for method, path, headers in requests:
        ours = _answer(app, method, path, headers)
        theirs = _answer(proxy, method, path, headers)
        assert theirs == ours, f"{method} {path} {headers}: {theirs[1]} != {ours[1]}"
        answers.append(ours)
    assert "strict-transport-security" in answers[0][1]
    assert answers[3][0] == 301
