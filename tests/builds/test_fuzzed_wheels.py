"""Bad wheels, generated: archives with odd member names, broken or hostile metadata, wrong
RECORDs and plain garbage, under good and bad file names. The upload API answers each with
a 2xx or a one-line 4xx and keeps nothing it refused: no 5xx, no Artifact row, no stray
file. Derandomized, so CI runs the same examples."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builds.models import Artifact
from tests.conftest import one_line_refusal, stored_files
from tests.wheels import record_hash

DIST_INFO = "demo-1.0.dist-info"
MEMBER_NAMES = [
    "demo/__init__.py",
    "demo/data.bin",
    f"{DIST_INFO}/METADATA",
    f"{DIST_INFO}/WHEEL",
    f"{DIST_INFO}/RECORD",
    "other-2.0.dist-info/METADATA",
    "../escape.py",
    "/abs/path.py",
    "demo/../../x",
    "demo\\windows.py",
    "demo/",
    "demo/" + "d" * 300,
    "é/ünï.py",
]
METADATA = [
    b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    b"Metadata-Version: 2.1\nName: other\nVersion: 1.0\n",
    b"Metadata-Version: 2.1\nName: demo\nVersion: 9\n",
    b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Python: >=3.8\n",
    b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: six ===\n",
    b"Metadata-Version: 9.9\n",
    b"\xff\xfe not utf-8",
    b"",
]
WHEEL = [
    b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    b"Wheel-Version: 1.0\nTag: cp311-cp311-win_amd64\n",
    b"Wheel-Version: 9.0\n",
    b"",
]
FILENAMES = [
    "demo-1.0-py3-none-any.whl",
    "demo-1.0-cp311-cp311-manylinux_2_17_s390x.whl",
    "demo-1.0.whl",
    "demo.tar.gz",
    "../demo-1.0-py3-none-any.whl",
    "Demo-1.0-py3-none-any.whl",
]


@st.composite
def archives(draw: st.DrawFn) -> bytes:
    """A zip from pieces of real wheels and hostile variations, or raw bytes."""
    if draw(st.booleans()) and draw(st.booleans()):
        return draw(st.binary(max_size=400))
    members: dict[str, bytes] = {
        "demo/__init__.py": b"VERSION = '1.0'\n",
        f"{DIST_INFO}/METADATA": draw(st.sampled_from(METADATA)),
        f"{DIST_INFO}/WHEEL": draw(st.sampled_from(WHEEL)),
    }
    for name in draw(st.lists(st.sampled_from(MEMBER_NAMES), max_size=4)):
        members[name] = draw(st.binary(max_size=64))
    if draw(st.booleans()):  # a RECORD that may or may not agree with the members
        listed = draw(st.lists(st.sampled_from(sorted(members)), unique=True))
        record = "".join(f"{n},{record_hash(members[n])},{len(members[n])}\n" for n in listed)
        members[f"{DIST_INFO}/RECORD"] = (record + f"{DIST_INFO}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    if draw(st.booleans()) and data:  # damage a byte
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    return data


@pytest.mark.django_db
@settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(content=archives(), filename=st.sampled_from(FILENAMES))
def test_any_wheel_upload_gets_a_2xx_or_a_one_line_4xx_and_leaves_nothing_behind(
    admin_client, storage_dir, content, filename
):
    rows, files = Artifact.objects.count(), len(stored_files(storage_dir))

    response = admin_client.post(
        "/api/wheels/upload", {"file": SimpleUploadedFile(filename, content)}
    )

    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert one_line_refusal(response), response.content
        assert Artifact.objects.count() == rows
        assert len(stored_files(storage_dir)) == files
    else:
        artifact = Artifact.objects.get(pk=response.json()["artifact"]["id"])
        assert artifact.size == len(content)
