"""Wheels built to hurt: bombs of many small members, too many members, a huge METADATA,
and refusals that would show where the server keeps files. Uploaded or built, each is
refused with one line naming the file, and nothing is stored or left behind."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from builds.artifacts import ArtifactError
from builds.models import Artifact
from builds.wheel_upload import WheelUploadError, upload_wheel
from builds.worker import inspect_built_wheel
from tests.conftest import stored_files
from tests.wheels import make_wheel

pytestmark = pytest.mark.django_db


def _refused(path: Path, storage_dir: Path) -> str:
    with pytest.raises(WheelUploadError) as caught, path.open("rb") as handle:
        upload_wheel(handle, path.name)
    assert Artifact.objects.count() == 0
    assert stored_files(storage_dir) == []
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_bomb_of_many_small_members_is_refused_by_its_overall_ratio(tmp_path, storage_dir):
    # Each member stays under the per-member check (1 MiB); together they unpack 1000x.
    wheel = make_wheel(tmp_path)
    with zipfile.ZipFile(wheel, "a", zipfile.ZIP_DEFLATED) as archive:
        for index in range(300):
            archive.writestr(f"demo/zeros{index}.bin", b"\0" * 1_000_000)
    message = _refused(wheel, storage_dir)
    assert "unpack to 300" in message
    assert "WHEEL_MAX_COMPRESSION_RATIO" in message


def test_too_many_members_are_refused(tmp_path, storage_dir, settings):
    settings.WHEEL_MAX_MEMBERS = 50
    files = {f"demo/m{index}.py": b"x = 1\n" for index in range(60)}
    wheel = make_wheel(tmp_path, extra_files=files)
    assert "over the limit of 50 (WHEEL_MAX_MEMBERS)" in _refused(wheel, storage_dir)


def test_a_metadata_file_over_its_limit_is_refused_before_it_is_read(
    tmp_path, storage_dir, settings
):
    settings.WHEEL_MAX_METADATA_BYTES = 4096
    wheel = make_wheel(tmp_path, metadata_extra="Description: " + "x" * 10_000 + "\n")
    message = _refused(wheel, storage_dir)
    assert "demo-1.0.dist-info/METADATA is" in message
    assert "WHEEL_MAX_METADATA_BYTES" in message


def _without(path: Path, member_suffix: str) -> Path:
    target = path.with_name("x-" + path.name)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            if not item.filename.endswith(member_suffix):
                out.writestr(item, source.read(item))
    final = path.parent / "broken" / path.name
    final.parent.mkdir(exist_ok=True)
    target.rename(final)
    return final


@pytest.mark.parametrize("missing", ["/RECORD", "/WHEEL", "/METADATA"])
def test_refusals_name_the_file_and_member_never_a_server_path(
    tmp_path, storage_dir, settings, missing
):
    wheel = _without(make_wheel(tmp_path), missing)
    message = _refused(wheel, storage_dir)
    assert message.startswith("demo-1.0-py3-none-any.whl: ")
    assert str(settings.VAR_DIR) not in message
    assert "wheel-upload-" not in message
    assert "/tmp" not in message


def test_a_wheel_with_two_dist_info_folders_is_refused_without_a_server_path(
    tmp_path, storage_dir, settings
):
    wheel = make_wheel(tmp_path, unrecorded={"other-1.0.dist-info/METADATA": b"Name: other\n"})
    message = _refused(wheel, storage_dir)
    assert "wheel-upload-" not in message
    assert str(settings.VAR_DIR) not in message


def test_the_scratch_folder_is_empty_after_every_refusal(tmp_path, storage_dir, settings):
    settings.WHEEL_MAX_MEMBERS = 2
    _refused(make_wheel(tmp_path, extra_files={f"demo/{i}.py": b"" for i in range(3)}), storage_dir)
    assert list((Path(settings.VAR_DIR) / "tmp").glob("wheel-upload-*")) == []


def test_a_built_wheel_gets_the_same_checks_before_it_is_unpacked(tmp_path, settings):
    settings.WHEEL_MAX_METADATA_BYTES = 4096
    wheel = make_wheel(tmp_path, metadata_extra="Description: " + "x" * 10_000 + "\n")
    with pytest.raises(ArtifactError, match="WHEEL_MAX_METADATA_BYTES"):
        inspect_built_wheel(wheel)
