"""Oversized and anonymous request bodies are refused before the server reads them, on the
real server (uvicorn), where Django alone would first spool the whole body to disk."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import WORKER_TOKEN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

HUGE = 300 * 1024 * 1024


def _raw_request(base: str, head: str, body_chunks: list[bytes] | None = None) -> str:
    """Send ``head`` (and maybe part of a body) and read what the server answers, without
    ever sending the rest: an answer proves nothing waited for the body."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=15) as sock:
        sock.sendall(head.encode())
        for chunk in body_chunks or []:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = b""
        while True:  # the headers, then the body by its Content-Length
            headers, ended, body = answer.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in headers.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                None,
            )
            if ended and length is not None and len(body) >= length:
                break
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer.decode("latin-1")


def _post_head(path: str, *headers: str) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines)


@pytest.fixture
def refinery(start_refinery):
    return start_refinery(env={"WORKER_TOKEN": WORKER_TOKEN})


@pytest.mark.parametrize("path", ["/api/requirements/upload", "/api/wheels/upload", "/api/nope"])
def test_an_anonymous_huge_post_to_the_api_is_refused_before_its_body(refinery, path):
    answer = _raw_request(refinery, _post_head(path, f"Content-Length: {HUGE}"))
    assert answer.startswith("HTTP/1.1 401")
    assert "send the worker token as X-Worker-Token" in answer.split("\r\n\r\n", 1)[1]


def test_a_credentialed_body_over_the_endpoint_limit_is_refused_by_its_length(refinery):
    answer = _raw_request(
        refinery,
        _post_head(
            "/api/requirements/upload",
            f"X-Worker-Token: {WORKER_TOKEN}",
            "Content-Type: multipart/form-data; boundary=x",
            f"Content-Length: {HUGE}",
        ),
    )
    assert answer.startswith("HTTP/1.1 413")


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(refinery):
    block = b"x" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(block), block)] * 64  # 4 MB, over the 320 KB limit
    answer = _raw_request(
        refinery,
        _post_head(
            "/api/requirements/upload",
            f"X-Worker-Token: {WORKER_TOKEN}",
            "Content-Type: multipart/form-data; boundary=x",
            "Transfer-Encoding: chunked",
        ),
        chunks,
    )
    assert answer.startswith("HTTP/1.1 413")


def test_limits_are_per_endpoint_wheels_large_requirements_small(refinery):
    body = b"PK" + b"\0" * (2 * 1024 * 1024)
    headers = {"X-Worker-Token": WORKER_TOKEN}
    files = {"file": ("demo-1.0-py3-none-any.whl", body)}
    wheel = httpx.post(f"{refinery}/api/wheels/upload", headers=headers, files=files, timeout=30)
    assert wheel.status_code == 400  # read and judged by the wheel checks, not by size
    assert "not a zip archive" in wheel.json()["error"]
    files = {"file": ("requirements.txt", b"six\n" * (1024 * 1024))}
    reqs = httpx.post(
        f"{refinery}/api/requirements/upload", headers=headers, files=files, timeout=30
    )
    assert reqs.status_code == 413
    assert "over the limit" in reqs.json()["error"]


def test_an_anonymous_form_post_outside_the_api_is_kept_small(refinery):
    answer = _raw_request(
        refinery,
        _post_head(
            "/admin/login/",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {2 * 1024 * 1024}",
        ),
    )
    assert answer.startswith("HTTP/1.1 413")


def test_no_uploaded_file_is_left_behind_whatever_the_outcome(refinery, tmp_path):
    headers = {"X-Worker-Token": WORKER_TOKEN}
    for body in (b"PK" + b"\0" * (3 * 1024 * 1024), b"not a wheel at all" * 200_000):
        httpx.post(
            f"{refinery}/api/wheels/upload",
            headers=headers,
            files={"file": ("demo-1.0-py3-none-any.whl", body)},
            timeout=30,
        )
    uploads = Path(tmp_path / "server-var" / "tmp")
    # The server removes a temporary file as the request ends, which may be just after the
    # response has reached us: give it a moment, not forever.
    deadline = time.monotonic() + 5
    while [p for p in uploads.rglob("*") if p.is_file()] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in uploads.rglob("*") if p.is_file()] == []
