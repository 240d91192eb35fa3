"""The planner's tar scan finds an sdist's top-level files exactly as tarfile does, in every
format sdists are written in, reads no further than it must, and refuses what is not a
sound archive with an error instead of a guess."""

from __future__ import annotations

import io
import tarfile

import pytest

from plans.tar_scan import TarScanError, top_level_files

WANTED = frozenset({"PKG-INFO", "pyproject.toml"})
PYPROJECT = b'[build-system]\nrequires = ["meson-python"]\n'


def _tar(members: list[tuple[str, bytes]], fmt: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.type = kind if name.endswith("pyproject.toml") else tarfile.REGTYPE
            info.mtime = 1_700_000_000.5  # a fraction: pax writes a record for it
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _by_tarfile(data: bytes) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            parts = member.name.removeprefix("./").split("/")
            if len(parts) == 2 and parts[1] in WANTED and member.isfile():
                found.setdefault(parts[1], archive.extractfile(member).read())
    return found


LONG = "pkg-1.0/" + "/".join(["deep" * 20] * 3) + "/module.py"  # past ustar's 100 bytes
MEMBERS = [
    ("pkg-1.0/src/a.py", b"print('a')\n" * 300),
    (LONG, b"x" * 700),
    ("pkg-1.0/sub/pyproject.toml", b"[not the top one]\n"),
    ("pkg-1.0/pyproject.toml", PYPROJECT),
    ("pkg-1.0/src/b.c", bytes(range(256)) * 9),
    ("pkg-1.0/PKG-INFO", b"Metadata-Version: 2.2\nName: pkg\nVersion: 1.0\n"),
]


@pytest.mark.parametrize(
    "fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=str
)
def test_every_format_sdists_use_gives_what_tarfile_gives(fmt):
    members = MEMBERS if fmt != tarfile.USTAR_FORMAT else [m for m in MEMBERS if m[0] != LONG]
    data = _tar(members, fmt)

    assert top_level_files(io.BytesIO(data), WANTED, 1 << 20) == _by_tarfile(data)
    assert top_level_files(io.BytesIO(data), WANTED, 1 << 20)["pyproject.toml"] == PYPROJECT


def test_a_long_top_level_name_is_read_from_its_pax_or_gnu_record():
    name = "p" * 120 + "-1.0"
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        data = _tar([(f"{name}/pyproject.toml", PYPROJECT)], fmt)
        assert top_level_files(io.BytesIO(data), WANTED, 1 << 20) == {"pyproject.toml": PYPROJECT}


def test_a_ustar_name_split_into_prefix_and_name_is_joined():
    name = "q" * 90 + "-1.0"  # 90 + 15 > 100: tarfile puts the directory in the prefix field
    data = _tar([(f"{name}/pyproject.toml", PYPROJECT)], tarfile.USTAR_FORMAT)

    assert data[345:350] == b"qqqqq"
    assert top_level_files(io.BytesIO(data), WANTED, 1 << 20) == {"pyproject.toml": PYPROJECT}


def test_a_link_or_directory_named_like_the_file_is_not_the_file():
    data = _tar([("pkg-1.0/pyproject.toml", b"")], tarfile.PAX_FORMAT, kind=tarfile.SYMTYPE)

    assert top_level_files(io.BytesIO(data), WANTED, 1 << 20) == {}


def test_a_file_over_the_size_limit_is_left_unread():
    data = _tar([("pkg-1.0/pyproject.toml", b"#" * 5000)], tarfile.PAX_FORMAT)

    assert top_level_files(io.BytesIO(data), WANTED, 4096) == {}


class _Tripwire(io.BytesIO):
    """A stream that fails if anything past ``limit`` is read."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(data)
        self.limit = limit

    def read(self, size: int | None = -1) -> bytes:
        if self.tell() + (size or 0) > self.limit:
            raise AssertionError(f"read past {self.limit}")
        return super().read(size)


def test_reading_stops_at_the_last_file_wanted():
    head = _tar([("pkg-1.0/pyproject.toml", PYPROJECT)], tarfile.PAX_FORMAT)[:-1024]
    rest = _tar([("pkg-1.0/big.bin", b"z" * 100_000)], tarfile.PAX_FORMAT)
    stream = _Tripwire(head + rest, limit=len(head))

    assert top_level_files(stream, frozenset({"pyproject.toml"}), 1 << 20) == {
        "pyproject.toml": PYPROJECT
    }


def test_a_header_with_a_wrong_checksum_is_refused():
    data = bytearray(_tar(MEMBERS, tarfile.PAX_FORMAT))
    data[0] ^= 0x01  # the first header's name changes, its checksum does not

    with pytest.raises(TarScanError, match="checksum"):
        top_level_files(io.BytesIO(bytes(data)), WANTED, 1 << 20)


def test_an_archive_cut_short_inside_the_wanted_file_is_refused():
    data = _tar([("pkg-1.0/pyproject.toml", PYPROJECT * 40)], tarfile.USTAR_FORMAT)

    with pytest.raises(TarScanError, match="ends inside"):
        top_level_files(io.BytesIO(data[: 512 + 100]), WANTED, 1 << 20)


def test_bytes_that_are_no_tar_at_all_are_refused():
    with pytest.raises(TarScanError):
        top_level_files(io.BytesIO(b"PK\x03\x04" + bytes(600)), WANTED, 1 << 20)
