"""A wheel's METADATA found from its zip's central directory gives exactly what ``zipfile``
gives, for every way a wheel is written (deflated, stored, zip64, a comment), and anything
else is refused with a reason rather than misread."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from plans.index_client import IndexClient
from plans.zip_scan import ZipScanError, wheel_metadata, wheel_metadata_of_bytes
from tests.wheels import make_wheel

REAL_WHEELS = ["six", "idna", "packaging", "markupsafe"]


def _zipfile_metadata(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (name,) = [
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        return archive.read(name)


def _zip(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED, comment: bytes = b""):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.comment = comment
    return buffer.getvalue()


METADATA = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: six\n\n" + b"x" * 5000


def test_a_built_wheels_metadata_is_what_zipfile_reads(tmp_path: Path):
    data = make_wheel(tmp_path, "demo", "1.0", requires_dist=["six>=1"]).read_bytes()

    assert wheel_metadata_of_bytes(data) == _zipfile_metadata(data)
    assert b"Requires-Dist: six>=1" in wheel_metadata_of_bytes(data)


@pytest.mark.parametrize(
    ("compression", "comment"),
    [(zipfile.ZIP_STORED, b""), (zipfile.ZIP_DEFLATED, b"a comment PK at the end")],
)
def test_stored_members_and_archive_comments_are_read(compression: int, comment: bytes):
    files = {"demo/__init__.py": b"", "demo-1.0.dist-info/METADATA": METADATA}
    data = _zip(files, compression, comment)

    assert wheel_metadata_of_bytes(data) == METADATA


def test_a_zip64_wheel_is_read(monkeypatch: pytest.MonkeyPatch):
    # Writing with a tiny zip64 limit makes zipfile use every zip64 structure for real.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)
    files = {f"demo/m{i}.py": b"y" * 300 for i in range(5)}
    data = _zip({**files, "demo-1.0.dist-info/METADATA": METADATA})
    monkeypatch.undo()

    assert b"PK\x06\x06" in data  # the zip64 end record is there
    assert wheel_metadata_of_bytes(data) == _zipfile_metadata(data) == METADATA


def test_only_a_top_level_dist_info_counts():
    data = _zip(
        {
            "demo/_vendor/other-2.0.dist-info/METADATA": b"Name: other\n",
            "demo-1.0.dist-info/METADATA": METADATA,
        }
    )

    assert wheel_metadata_of_bytes(data) == METADATA


def test_two_top_level_metadata_files_are_refused():
    data = _zip({"a-1.0.dist-info/METADATA": METADATA, "b-1.0.dist-info/METADATA": METADATA})

    with pytest.raises(ZipScanError, match=r"expected one \.dist-info/METADATA, found 2"):
        wheel_metadata_of_bytes(data)


def test_a_damaged_member_is_refused_by_its_crc():
    data = bytearray(
        _zip({"demo-1.0.dist-info/METADATA": METADATA}, compression=zipfile.ZIP_STORED)
    )
    at = data.find(b"Requires-Dist")
    data[at] ^= 0xFF

    with pytest.raises(ZipScanError, match="CRC-32"):
        wheel_metadata_of_bytes(bytes(data))


@pytest.mark.parametrize(
    "data",
    [
        b"not a zip file at all" * 10,
        _zip({"demo-1.0.dist-info/METADATA": METADATA})[:-30],  # cut inside the end record
        b"",
    ],
    ids=["not-a-zip", "cut-short", "empty"],
)
def test_what_is_not_a_readable_zip_is_refused(data: bytes):
    with pytest.raises(ZipScanError):
        wheel_metadata_of_bytes(data)


def test_real_wheels_from_pypi_read_as_zipfile_reads_them(index: IndexClient):
    for name in REAL_WHEELS:
        page = index.project(name)
        newest = max(page.versions)
        wheel = next(f for f in page.files_for(newest) if f.is_wheel)
        data = index.download(wheel).read_bytes()
        with index.download(wheel).open("rb") as source:
            assert wheel_metadata(source, len(data)) == _zipfile_metadata(data), wheel.filename
