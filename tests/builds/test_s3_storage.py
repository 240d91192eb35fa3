"""Artifacts stored through django-storages on a real S3 protocol server (moto's server)."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from django.core.files.storage import default_storage

from builds.artifacts import cas_key, store_wheel
from builds.models import Artifact
from plans.index_client import IndexClient
from tests.factories import TargetFactory
from tests.wheels import make_wheel

pytestmark = [pytest.mark.django_db, pytest.mark.network, pytest.mark.slow]
BUCKET = "refinery-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "file_overwrite": False,
                "addressing_style": "path",
                "querystring_expire": 60,
            },
        },
    }
    return client


def test_a_wheel_is_stored_in_s3_under_its_hash_and_reads_back_identical(s3_storage, tmp_path):
    with IndexClient(["https://pypi.org/simple/"], tmp_path / "cache") as index:
        dist = next(
            f for f in index.project("six").files if f.filename == "six-1.16.0-py2.py3-none-any.whl"
        )
        path = index.download(dist)

    artifact = store_wheel(
        path,
        target=TargetFactory(),
        origin=Artifact.Origin.REUSED,
        name="six",
        version="1.16.0",
        filename=dist.filename,
    )

    assert artifact.storage_key == cas_key(dist.sha256)
    head = s3_storage.head_object(Bucket=BUCKET, Key=artifact.storage_key)
    assert head["ContentLength"] == artifact.size
    body = s3_storage.get_object(Bucket=BUCKET, Key=artifact.storage_key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == artifact.sha256 == dist.sha256
    with default_storage.open(artifact.storage_key) as stored:
        assert stored.read() == body
    # Storing the same bytes again adds nothing.
    again = store_wheel(
        path,
        target=artifact.target,
        origin=Artifact.Origin.REUSED,
        name="six",
        version="1.16.0",
        filename=dist.filename,
    )
    assert again.pk == artifact.pk
    assert s3_storage.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1


def test_a_download_redirects_to_a_short_lived_presigned_url_that_serves_the_wheel(
    s3_storage, client, tmp_path
):
    path = make_wheel(tmp_path)
    artifact = store_wheel(
        path, target=TargetFactory(), origin=Artifact.Origin.UPLOADED, name="demo", version="1.0"
    )

    response = client.get(f"/files/{artifact.sha256}/{artifact.filename}")

    assert response.status_code == 302
    location = response["Location"]
    query = parse_qs(urlsplit(location).query)
    assert "Signature" in query or "X-Amz-Signature" in query
    if "Expires" in query:  # signature v2: an absolute time
        assert 0 < int(query["Expires"][0]) - time.time() <= 61
    else:
        assert query["X-Amz-Expires"] == ["60"]
    assert httpx.get(location).content == path.read_bytes()
