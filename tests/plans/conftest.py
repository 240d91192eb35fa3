from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plans.index_client import IndexClient

PYPI = "https://pypi.org/simple/"


@pytest.fixture(scope="session")
def index_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session: tests share what they fetched from real PyPI."""
    return tmp_path_factory.mktemp("index-cache")


@pytest.fixture
def index(index_cache: Path) -> Iterator[IndexClient]:
    with IndexClient([PYPI], index_cache) as index_client:
        yield index_client
