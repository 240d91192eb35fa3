"""The moment an sdist's build requirements are read (while the runtime closure is still
resolving), their pages, their likely versions' metadata and what those need are fetched
in the background, so the build environment later resolves without waiting on the index."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from inputs.target_env import TargetEnvironment
from plans.build_requires_reader import BuildRequiresReader
from plans.dag import build_plan_dag
from plans.index_client import IndexClient
from plans.plan_overrides import Overrides
from plans.resolver import FetchAhead, ResolverCache
from tests.local_index import local_index
from tests.sdists import make_sdist
from tests.wheels import make_wheel

S390X = TargetEnvironment("3.11.7", "manylinux_2_17_s390x")
BUILD_REQUIRES = '"backend>=1", "winbackend; sys_platform == \'win32\'"'


def _alpha_sdist(directory: Path) -> Path:
    return make_sdist(
        directory,
        "alpha-1.0.tar.gz",
        {
            "alpha-1.0/pyproject.toml": (
                f'[build-system]\nrequires = [{BUILD_REQUIRES}]\nbuild-backend = "backend"\n'
            ).encode(),
            "alpha-1.0/PKG-INFO": b"Metadata-Version: 2.2\nName: alpha\nVersion: 1.0\n",
        },
    )


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexClient]:
    """alpha (sdist only) builds with backend, whose wheel needs helper, whose wheel needs
    nothing; winbackend exists too, but alpha needs it only on Windows."""
    files = [
        _alpha_sdist(tmp_path),
        make_wheel(tmp_path, "backend", "1.5", requires_dist=["helper>=1"]),
        make_wheel(tmp_path, "helper", "1.0"),
        make_wheel(tmp_path, "winbackend", "1.0"),
    ]
    with local_index(files) as url, IndexClient([url], tmp_path / "cache", ttl=600) as client:
        yield client


def _pages_asked(client: IndexClient) -> set[str]:
    return {Path(path).name for path in client.page_files_read()}


def _page_of(client: IndexClient, name: str) -> str:
    return Path(client._page_cache_path(f"{client.index_urls[0]}{name}/")).name


def _reader_fetching_ahead(client: IndexClient) -> BuildRequiresReader:
    reader = BuildRequiresReader(client)
    reader.on_declared = FetchAhead(
        client, S390X, overrides=Overrides(), cache=ResolverCache(), on_likely=reader.prefetch
    )
    return reader


def test_reading_build_requirements_asks_at_once_for_the_pages_that_apply_on_the_target(
    index: IndexClient,
):
    reader = _reader_fetching_ahead(index)
    sdist = index.project("alpha").files[0]

    declared = reader.read(sdist)

    assert isinstance(declared, list)
    assert [str(r) for r in declared] == ["backend>=1", 'winbackend; sys_platform == "win32"']
    asked = _pages_asked(index)
    assert _page_of(index, "backend") in asked
    assert _page_of(index, "winbackend") not in asked
    reader.close()


def test_what_the_build_requirements_need_is_fetched_too_before_anyone_resolves_them(
    index: IndexClient,
):
    reader = _reader_fetching_ahead(index)
    reader.read(index.project("alpha").files[0])

    # helper is named only in backend's metadata: asking for its page means backend's
    # newest version was looked at and its metadata read, all in the background.
    deadline = time.monotonic() + 10
    while _page_of(index, "helper") not in _pages_asked(index) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _page_of(index, "helper") in _pages_asked(index)
    reader.close()


def test_a_plan_fetching_ahead_still_builds_with_the_environment_it_resolves(
    index: IndexClient,
):
    dag = build_plan_dag([Requirement("alpha")], index, S390X)

    assert dag.nodes["alpha==1.0"]["build_requires"] == ["backend==1.5"]
    assert set(dag.nodes) == {"alpha==1.0", "backend==1.5", "helper==1.0"}
