"""Reading an sdist's PKG-INFO and pyproject.toml from a .tar.gz walked as a forward-only
gzip stream finds what tarfile itself finds, and a damaged archive is a clear error."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from plans import metadata
from plans.gzip_stream import ForwardGzipReader
from plans.metadata import MetadataError, read_sdist
from tests.sdists import make_sdist

PYPROJECT = b'[build-system]\nrequires = ["setuptools>=61", "cython"]\n'
PKG_INFO = b"Metadata-Version: 2.2\nName: big\nVersion: 1.0\n"


def _big_sdist(directory: Path) -> Path:
    """Megabytes of incompressible members before pyproject.toml, PKG-INFO last."""
    files = {f"big-1.0/src/blob{i}.bin": os.urandom(400_000) for i in range(8)}
    files["big-1.0/pyproject.toml"] = PYPROJECT
    files["big-1.0/src/more.bin"] = os.urandom(300_000)
    files["big-1.0/PKG-INFO"] = PKG_INFO
    return make_sdist(directory, "big-1.0.tar.gz", files)


def test_the_top_level_files_are_found_behind_megabytes_of_members(tmp_path):
    info = read_sdist(_big_sdist(tmp_path))

    assert info.pkg_info == PKG_INFO
    assert info.pyproject == {"build-system": {"requires": ["setuptools>=61", "cython"]}}


def test_asking_for_pyproject_alone_stops_there(tmp_path):
    info = read_sdist(_big_sdist(tmp_path), frozenset({"pyproject.toml"}))

    assert info.pyproject is not None
    assert info.pkg_info is None


def test_the_stream_reads_every_member_as_tarfile_does(tmp_path):
    sdist = _big_sdist(tmp_path)
    with tarfile.open(sdist) as reference:
        expected = [(m.name, reference.extractfile(m).read()) for m in reference.getmembers()]
    with sdist.open("rb") as raw, tarfile.open(fileobj=ForwardGzipReader(raw), mode="r:") as ours:
        got = [(m.name, ours.extractfile(m).read()) for m in ours]

    assert got == expected


def test_concatenated_gzip_members_read_as_one_stream():
    joined = gzip.compress(b"first half, ") + gzip.compress(b"second half")

    assert ForwardGzipReader(io.BytesIO(joined)).read() == b"first half, second half"


def test_a_damaged_archive_is_a_one_line_error_naming_the_file(tmp_path):
    # Text compresses into coded blocks (random bytes would be stored as they are, where a
    # damaged byte is just another byte): garbling the first block breaks the stream.
    text = b"".join(b"line %d of a source file\n" % n for n in range(50_000))
    sdist = make_sdist(
        tmp_path,
        "damaged-1.0.tar.gz",
        {"damaged-1.0/src/code.py": text, "damaged-1.0/pyproject.toml": PYPROJECT},
    )
    data = bytearray(sdist.read_bytes())
    data[20:420] = b"\xff" * 400  # just past the gzip header: the first deflate block
    damaged = sdist
    damaged.write_bytes(bytes(data))

    with pytest.raises(MetadataError, match=r"damaged-1\.0\.tar\.gz: not a readable sdist"):
        read_sdist(damaged)


def test_seeking_backwards_is_refused():
    reader = ForwardGzipReader(io.BytesIO(gzip.compress(b"x" * 10_000_000)))
    reader.seek(5_000_000)
    assert reader.read(3) == b"xxx"

    with pytest.raises(io.UnsupportedOperation):
        reader.seek(0)


def test_an_sdist_that_unpacks_past_the_limit_is_refused_before_the_end(tmp_path, monkeypatch):
    # Zeros compress a thousandfold: a small download, gigabytes once unpacked.
    bomb = make_sdist(
        tmp_path,
        "bomb-1.0.tar.gz",
        {"bomb-1.0/zeros.bin": bytes(30 << 20), "bomb-1.0/pyproject.toml": PYPROJECT},
    )
    assert bomb.stat().st_size < 1 << 20
    monkeypatch.setattr(metadata, "MAX_UNPACKED", 10 << 20)

    with pytest.raises(MetadataError, match=r"bomb-1\.0\.tar\.gz: .*unpacks to more than 10 MiB"):
        read_sdist(bomb)
