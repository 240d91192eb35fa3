"""Wheel uploads (service, API, command): a bad wheel gets one line and nothing is stored;
a good one is in the index at once."""

from __future__ import annotations

import os
import zipfile
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from builds.index.catalog import IndexTarget
from builds.models import Artifact
from builds.wheel_upload import WheelUploadError, upload_wheel
from tests.conftest import stored_files
from tests.wheels import make_wheel

pytestmark = pytest.mark.django_db
URL = "/api/wheels/upload"


def _upload(path, **kwargs):
    with path.open("rb") as handle:
        return upload_wheel(handle, path.name, **kwargs)


def _rejected(path, storage_dir, **kwargs) -> str:
    with pytest.raises(WheelUploadError) as caught:
        _upload(path, **kwargs)
    assert Artifact.objects.count() == 0
    assert stored_files(storage_dir) == []
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_good_wheel_is_stored_by_hash_and_listed_in_the_index(client, tmp_path, storage_dir):
    wheel = make_wheel(tmp_path, "demo-pkg", "1.2", filename="demo_pkg-1.2-py3-none-any.whl")

    result = _upload(wheel, uploader="alice")

    assert result.created is True
    artifact = result.artifact
    assert artifact.origin == "uploaded"
    assert (artifact.name, artifact.version) == ("demo-pkg", "1.2")
    assert artifact.provenance == {"uploaded_by": "alice"}
    assert stored_files(storage_dir)[0].name == artifact.sha256
    page = client.get("/simple/demo-pkg/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json")
    assert [f["filename"] for f in page.json()["files"]] == ["demo_pkg-1.2-py3-none-any.whl"]


def test_the_same_wheel_again_is_reported_not_duplicated(tmp_path, storage_dir):
    wheel = make_wheel(tmp_path)
    first = _upload(wheel)
    second = _upload(wheel)
    assert second.created is False
    assert second.artifact.pk == first.artifact.pk
    assert "already in the store" in second.message
    assert Artifact.objects.count() == 1


def test_other_bytes_under_a_published_file_name_are_refused(tmp_path, storage_dir):
    _upload(make_wheel(tmp_path))
    (tmp_path / "other").mkdir()
    impostor = make_wheel(tmp_path / "other", extra_files={"demo/extra.py": b"x = 1\n"})
    with pytest.raises(WheelUploadError, match="a different file of that name"):
        _upload(impostor)
    assert Artifact.objects.count() == 1


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("demo-1.0.tar.gz", "not a wheel file name"),
        ("demo-1.0-py3-none.whl", "not a wheel file name"),
        ("../demo-1.0-py3-none-any.whl", "not a plain file name"),
        ("demo-1.0-py3-none-any!.whl", "not a wheel file name"),
    ],
)
def test_a_file_name_that_is_not_a_wheel_is_refused(tmp_path, storage_dir, filename, expected):
    with pytest.raises(WheelUploadError, match=expected):
        upload_wheel(BytesIO(b"PK"), filename)
    assert stored_files(storage_dir) == []


def test_a_file_that_is_not_a_zip_is_refused(tmp_path, storage_dir):
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(b"not a zip at all")
    assert "not a zip archive" in _rejected(path, storage_dir)


def test_path_traversal_in_the_archive_is_refused(tmp_path, storage_dir):
    wheel = make_wheel(tmp_path, unrecorded={"../../etc/evil.py": b"boom"})
    assert "unsafe path" in _rejected(wheel, storage_dir)


def test_a_symbolic_link_in_the_archive_is_refused(tmp_path, storage_dir):
    wheel = make_wheel(tmp_path)
    with zipfile.ZipFile(wheel, "a") as archive:
        link = zipfile.ZipInfo("demo/link")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    assert "symbolic link" in _rejected(wheel, storage_dir)


def test_a_zip_bomb_is_refused(tmp_path, storage_dir, settings):
    settings.WHEEL_MAX_COMPRESSION_RATIO = 100
    wheel = make_wheel(tmp_path, extra_files={"demo/zeros.bin": b"\0" * (8 << 20)})
    assert "beyond the limit of 100x" in _rejected(wheel, storage_dir)


def test_a_wheel_unpacking_beyond_the_limit_is_refused(tmp_path, storage_dir, settings):
    settings.WHEEL_MAX_UNPACKED_BYTES = 10_000
    wheel = make_wheel(tmp_path, extra_files={"demo/data.txt": b"abc" * 5000})
    assert "WHEEL_MAX_UNPACKED_BYTES" in _rejected(wheel, storage_dir)


def test_a_file_over_the_upload_limit_is_refused(tmp_path, storage_dir, settings):
    settings.WHEEL_UPLOAD_MAX_BYTES = 2048
    wheel = make_wheel(tmp_path, extra_files={"demo/data.bin": os.urandom(4000)})
    assert "WHEEL_UPLOAD_MAX_BYTES" in _rejected(wheel, storage_dir)


def test_a_dist_info_for_another_project_is_refused(tmp_path, storage_dir):
    wheel = make_wheel(tmp_path, "other", filename="demo-1.0-py3-none-any.whl")
    assert "dist-info" in _rejected(wheel, storage_dir)


def test_metadata_naming_another_version_is_refused(tmp_path, storage_dir):
    wheel = make_wheel(tmp_path, metadata_version="2.0")
    assert "METADATA says version 2.0, not 1.0" in _rejected(wheel, storage_dir)


def test_metadata_naming_another_project_is_refused(tmp_path, storage_dir):
    wheel = make_wheel(tmp_path, metadata_name="somebody-else")
    assert "METADATA names 'somebody-else'" in _rejected(wheel, storage_dir)


def test_a_file_whose_hash_disagrees_with_record_is_refused(tmp_path, storage_dir):
    wheel = make_wheel(tmp_path, tamper={"demo/__init__.py": b"import os; os.system('x')\n"})
    message = _rejected(wheel, storage_dir)
    assert "demo/__init__.py didn't match RECORD" in message
    assert str(tmp_path) not in message  # the uploader sees the file, not our scratch path


def test_a_file_missing_from_record_is_refused(tmp_path, storage_dir):
    wheel = make_wheel(tmp_path, unrecorded={"demo/sneaky.py": b"pass\n"})
    assert "demo/sneaky.py is not mentioned in RECORD" in _rejected(wheel, storage_dir)


def test_wheel_tags_that_disagree_with_the_file_name_are_refused(tmp_path, storage_dir):
    wheel = make_wheel(tmp_path, wheel_tags=["cp311-cp311-manylinux_2_17_x86_64"])
    assert "WHEEL lists tags cp311-cp311-manylinux_2_17_x86_64" in _rejected(wheel, storage_dir)


def test_a_wheel_for_another_platform_than_the_target_is_refused(tmp_path, storage_dir):
    wheel = make_wheel(tmp_path, tag="cp311-cp311-manylinux_2_17_aarch64")
    target = IndexTarget("3.11", "manylinux_2_17_x86_64")
    assert "does not install on" in _rejected(wheel, storage_dir, target=target)


def test_the_api_stores_a_wheel_for_staff(admin_client, tmp_path, storage_dir):
    wheel = make_wheel(tmp_path)
    upload = SimpleUploadedFile(wheel.name, wheel.read_bytes())
    response = admin_client.post(URL, {"file": upload})
    assert response.status_code == 201
    body = response.json()
    assert body["created"] is True
    assert body["artifact"]["filename"] == wheel.name
    assert body["artifact"]["download_url"] == f"/files/{body['artifact']['sha256']}/{wheel.name}"
    again = admin_client.post(URL, {"file": SimpleUploadedFile(wheel.name, wheel.read_bytes())})
    assert again.status_code == 200


def test_the_api_answers_a_bad_wheel_with_one_line_and_stores_nothing(
    admin_client, tmp_path, storage_dir
):
    wheel = make_wheel(tmp_path, metadata_version="9")
    response = admin_client.post(URL, {"file": SimpleUploadedFile(wheel.name, wheel.read_bytes())})
    assert response.status_code == 400
    assert response.json() == {
        "error": "demo-1.0-py3-none-any.whl: METADATA says version 9, not 1.0"
    }
    assert stored_files(storage_dir) == []


def test_the_api_refuses_an_unknown_target(admin_client, tmp_path, storage_dir):
    wheel = make_wheel(tmp_path)
    response = admin_client.post(
        URL,
        {"file": SimpleUploadedFile(wheel.name, wheel.read_bytes()), "target": "cp39-windows"},
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("target: no index for")


def test_the_api_refuses_anonymous_uploads(client, tmp_path, storage_dir):
    wheel = make_wheel(tmp_path)
    response = client.post(URL, {"file": SimpleUploadedFile(wheel.name, wheel.read_bytes())})
    assert response.status_code == 401  # no credential: 401, saying which to send
    assert response.headers["WWW-Authenticate"]
    assert Artifact.objects.count() == 0


def test_the_upload_command_takes_a_wheel(tmp_path, storage_dir, capsys):
    wheel = make_wheel(tmp_path)
    call_command("upload", str(wheel))
    assert "stored demo-1.0-py3-none-any.whl" in capsys.readouterr().out
    bad = make_wheel(tmp_path, "bad", metadata_version="3", filename="bad-1.0-py3-none-any.whl")
    with pytest.raises(CommandError, match="METADATA says version 3"):
        call_command("upload", str(bad))
