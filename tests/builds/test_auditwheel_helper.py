"""Binary wheels are repaired by auditwheel forked from a helper that has it loaded; a helper
that died is replaced on the next repair, and auditwheel's refusals still read as before."""

from __future__ import annotations

import zipfile
from pathlib import Path

import msgspec
import pytest

from builds import auditwheel_runner
from builds.artifacts import TargetTooOld, repair
from builds.log_sink import KeptLines
from tests.wheels import make_wheel

EXTENSION = next(Path(msgspec.__file__).parent.glob("_core.cpython-311-*.so"))


def _binary_wheel(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    """A cp311 linux wheel holding a real extension module (msgspec's, built for manylinux)."""
    return make_wheel(
        directory,
        "speedy",
        "1.0",
        "cp311-cp311-linux_x86_64",
        extra_files={f"speedy/{EXTENSION.name}": EXTENSION.read_bytes()},
    )


def test_a_binary_wheel_is_repaired_to_the_target_platform(tmp_path):
    sink = KeptLines()

    repaired = repair(_binary_wheel(tmp_path), "manylinux_2_28_x86_64", tmp_path / "out", sink)

    # auditwheel tags it with every policy it meets, the target's among them.
    assert repaired.name.startswith("speedy-1.0-cp311-cp311-")
    assert "manylinux_2_28_x86_64" in repaired.name
    with zipfile.ZipFile(repaired) as archive:
        assert f"speedy/{EXTENSION.name}" in archive.namelist()
    assert any(line.startswith("$ auditwheel repair --plat") for line in sink.lines)
    assert any("Fixed-up wheel written to" in line for line in sink.lines)


def test_a_helper_that_died_is_replaced_by_the_next_repair(tmp_path):
    repair(_binary_wheel(tmp_path / "a"), "manylinux_2_28_x86_64", tmp_path / "one", KeptLines())
    helper = auditwheel_runner._helper
    assert helper is not None
    helper.kill()
    helper.wait()

    repaired = repair(
        _binary_wheel(tmp_path / "b"), "manylinux_2_28_x86_64", tmp_path / "two", KeptLines()
    )

    assert repaired.exists()
    assert auditwheel_runner._helper is not helper


def test_a_repair_auditwheel_refuses_is_a_one_line_error_naming_the_wheel(tmp_path):
    wheel = _binary_wheel(tmp_path)

    with pytest.raises(TargetTooOld, match=r"speedy-1\.0-.* newer than manylinux_2_5") as raised:
        repair(wheel, "manylinux_2_5_x86_64", tmp_path / "out", KeptLines())

    assert "\n" not in str(raised.value)
