"""Big sdists are read in a helper process (a GIL of its own, beside the resolver), with
exactly the in-process read's results and errors; when the helper cannot serve, reads go
on in the planner's own process, and the helper ends with the plan."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plans.build_requires_reader import BuildRequiresReader
from plans.index_client import HashMismatch, IndexClient
from plans.metadata import MetadataError
from plans.project_pages import DistFile
from tests.local_index import local_index
from tests.plans.dist_files import dist_file
from tests.sdists import make_sdist


def _sdist(directory: Path, name: str, requires: str) -> Path:
    root = f"{name}-1.0"
    return make_sdist(
        directory,
        f"{root}.tar.gz",
        {
            f"{root}/pyproject.toml": f"[build-system]\nrequires = [{requires}]\n".encode(),
            f"{root}/data.bin": os.urandom(200_000),
        },
    )


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexClient]:
    broken = tmp_path / "broken-1.0.tar.gz"
    broken.write_bytes(b"not a tar archive at all" * 100)
    files = [
        _sdist(tmp_path, "alpha", '"flit_core>=3.2"'),
        _sdist(tmp_path, "beta", '"meson-python>=0.15", "cython>=3"'),
        broken,
    ]
    with local_index(files) as url, IndexClient([url], tmp_path / "cache", ttl=600) as client:
        yield client


def _file(client: IndexClient, name: str) -> DistFile:
    return client.project(name).files[0]


def _requirements(declared: object) -> list[str]:
    assert isinstance(declared, list)
    return [str(r) for r in declared]


def _ended(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def test_a_big_sdist_is_read_in_the_helper_with_the_same_requirements(index: IndexClient):
    reader = BuildRequiresReader(index, helper_from_bytes=0)

    declared = reader.read(_file(index, "beta"))

    assert _requirements(declared) == ["meson-python>=0.15", "cython>=3"]
    assert reader.helper.pid is not None
    assert reader.helper.pid != os.getpid()
    reader.close()
    # What the helper read is kept: the next plan's reader opens no sdist and no helper.
    again = BuildRequiresReader(index, helper_from_bytes=0)
    assert _requirements(again.read(_file(index, "beta"))) == ["meson-python>=0.15", "cython>=3"]
    assert again.helper.pid is None
    again.close()


def test_a_small_sdist_is_read_in_process_without_starting_a_helper(index: IndexClient):
    reader = BuildRequiresReader(index)

    assert _requirements(reader.read(_file(index, "alpha"))) == ["flit_core>=3.2"]
    assert reader.helper.pid is None
    reader.close()


def test_an_unreadable_sdist_is_unreadable_through_the_helper_too(index: IndexClient):
    reader = BuildRequiresReader(index, helper_from_bytes=0)

    declared = reader.read(_file(index, "broken"))

    assert isinstance(declared, MetadataError)
    assert "broken-1.0.tar.gz: not a readable sdist archive" in str(declared)
    reader.close()


def test_a_file_that_does_not_match_its_hash_is_refused_through_the_helper(
    index: IndexClient,
):
    real = _file(index, "alpha")
    body = b"x"  # only its hash matters: the index's file is not this
    wrong = dist_file(real.filename, real.url, body)
    reader = BuildRequiresReader(index, helper_from_bytes=0)

    with pytest.raises(HashMismatch, match="does not match the index's"):
        reader.read(wrong)
    reader.close()


def test_reads_go_on_in_process_when_the_helper_is_killed(index: IndexClient):
    reader = BuildRequiresReader(index, helper_from_bytes=0)
    assert _requirements(reader.read(_file(index, "alpha"))) == ["flit_core>=3.2"]
    pid = reader.helper.pid
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    assert _ended(pid)

    assert _requirements(reader.read(_file(index, "beta"))) == ["meson-python>=0.15", "cython>=3"]
    reader.close()


def test_the_helper_ends_when_the_plan_closes_its_reader(index: IndexClient):
    reader = BuildRequiresReader(index, helper_from_bytes=0)
    reader.read(_file(index, "alpha"))
    pid = reader.helper.pid
    assert pid is not None

    reader.close()

    assert _ended(pid)
