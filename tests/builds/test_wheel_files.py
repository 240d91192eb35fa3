"""Wheel and metadata downloads: streamed from the filesystem with Range and conditional GET,
redirected to a short-lived presigned URL on S3 (see test_s3_storage)."""

from __future__ import annotations

import pytest

from builds.artifacts import store_wheel
from builds.models import Artifact
from tests.factories import TargetFactory
from tests.wheels import make_wheel

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(tmp_path, storage_dir):
    path = make_wheel(tmp_path, extra_files={"demo/data.bin": bytes(range(256)) * 64})
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    artifact = store_wheel(
        path, target=target, origin=Artifact.Origin.UPLOADED, name="demo", version="1.0"
    )
    return artifact, path.read_bytes()


def _body(response) -> bytes:
    return b"".join(response) if response.streaming else response.content


def test_a_wheel_downloads_whole_with_its_hash_as_etag(client, stored):
    artifact, data = stored
    response = client.get(f"/files/{artifact.sha256}/{artifact.filename}")
    assert response.status_code == 200
    assert _body(response) == data
    assert response["ETag"] == f'"{artifact.sha256}"'
    assert response["Accept-Ranges"] == "bytes"
    assert int(response["Content-Length"]) == len(data)


def test_a_range_request_gets_just_those_bytes(client, stored):
    artifact, data = stored
    url = f"/files/{artifact.sha256}/{artifact.filename}"
    part = client.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206
    assert _body(part) == data[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = client.get(url, HTTP_RANGE="bytes=-5")
    assert _body(tail) == data[-5:]
    beyond = client.get(url, HTTP_RANGE=f"bytes={len(data) + 10}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(data)}"
    stale = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"another-version"')
    assert stale.status_code == 200  # If-Range mismatch: the whole file


def test_a_current_copy_gets_304(client, stored):
    artifact, _ = stored
    url = f"/files/{artifact.sha256}/{artifact.filename}"
    assert client.get(url, HTTP_IF_NONE_MATCH=f'"{artifact.sha256}"').status_code == 304


def test_a_wrong_name_or_hash_is_a_404(client, stored):
    artifact, _ = stored
    assert client.get(f"/files/{artifact.sha256}/other-1.0-py3-none-any.whl").status_code == 404
    assert client.get(f"/files/{'0' * 64}/{artifact.filename}").status_code == 404
    assert client.get(f"/files/nothex/{artifact.filename}").status_code == 404


def test_the_metadata_file_is_served_byte_for_byte(client, stored):
    artifact, _ = stored
    response = client.get(f"/files/{artifact.sha256}/{artifact.filename}.metadata")
    assert response.content == artifact.core_metadata.encode()
    assert response["ETag"] == f'"{artifact.metadata_sha256}"'


def test_files_are_also_served_under_a_target_prefix(client, stored):
    artifact, data = stored
    url = f"/t/cp311-manylinux_2_17_x86_64/files/{artifact.sha256}/{artifact.filename}"
    assert _body(client.get(url)) == data
