"""A platform-tagged wheel with no binary in it (PyYAML built without libyaml leaves its C
extension out, yet tags the wheel linux_x86_64) is retagged for the target, not refused:
nothing in it links anything, so no platform policy can be broken."""

from __future__ import annotations

import zipfile

import pytest

from builds.artifacts import ArtifactError, has_binaries, repair
from builds.log_sink import KeptLines
from builds.wheel_upload import inspect_wheel
from tests.wheels import make_wheel


def test_a_linux_wheel_without_binaries_is_retagged_for_the_target(tmp_path):
    wheel = make_wheel(
        tmp_path,
        "pyyaml",
        "6.0.2",
        tag="cp311-cp311-linux_x86_64",
        extra_files={"yaml/__init__.py": b"__version__ = '6.0.2'\n"},
    )
    sink = KeptLines()

    repaired = repair(wheel, "manylinux_2_17_x86_64", tmp_path / "out", sink)

    assert repaired.name == "pyyaml-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(repaired) as archive:
        tags = archive.read("pyyaml-6.0.2.dist-info/WHEEL").decode()
        assert "Tag: cp311-cp311-manylinux_2_17_x86_64" in tags
        assert "linux_x86_64" not in tags.replace("manylinux_2_17_x86_64", "")
        assert archive.read("yaml/__init__.py") == b"__version__ = '6.0.2'\n"
    # Every check an upload gets (RECORD matching every file among them).
    assert inspect_wheel(repaired) == ("pyyaml", "6.0.2")
    assert "no binary in pyyaml-6.0.2-cp311-cp311-linux_x86_64.whl" in sink.lines[0]


def test_a_wheel_with_an_extension_module_is_seen_as_binary(tmp_path):
    elf = b"\x7fELF\x02\x01\x01" + b"\0" * 57
    wheel = make_wheel(
        tmp_path,
        "fast",
        "1.0",
        tag="cp311-cp311-linux_x86_64",
        extra_files={"fast/_speed.cpython-311-x86_64-linux-gnu.so": elf},
    )
    plain = make_wheel(tmp_path, "plain", "1.0", tag="cp311-cp311-linux_x86_64")

    assert has_binaries(wheel)
    assert not has_binaries(plain)


def test_a_wheel_the_retag_cannot_read_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("broken/__init__.py", "")

    with pytest.raises(
        ArtifactError, match=r"could not retag broken-1\.0-cp311-cp311-linux_x86_64\.whl"
    ):
        repair(broken, "manylinux_2_17_x86_64", tmp_path / "out", KeptLines())
