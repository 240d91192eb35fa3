"""Where dependencies come from: wheel metadata by range request, sdist PKG-INFO, PEP 517."""

from __future__ import annotations

import pytest

from plans.metadata import dependencies_of, read_sdist, sdist_build_requires

pytestmark = [pytest.mark.network]


def _file(index, name, filename):
    return next(f for f in index.project(name).files if f.filename == filename)


def test_wheel_metadata_is_read_without_downloading_the_wheel(index):
    wheel = _file(index, "requests", "requests-2.32.3-py3-none-any.whl")
    before = index.network_requests
    metadata = dependencies_of(index, wheel, None)
    names = {r.name.lower() for r in metadata.requires_dist}
    assert {"urllib3", "idna", "certifi", "charset-normalizer"} <= names
    assert index.network_requests - before <= 3  # range reads, not the whole file
    cached = index.cache_dir / "metadata" / wheel.sha256[:2] / f"{wheel.sha256}.metadata"
    assert cached.exists()


def test_an_old_sdist_without_static_metadata_falls_back_to_pep_517(index):
    sdist = _file(index, "six", "six-1.16.0.tar.gz")
    info = read_sdist(index.download(sdist))
    assert info.pkg_info is not None  # Metadata-Version 1.x: Requires-Dist cannot be trusted
    metadata = dependencies_of(index, None, sdist)
    assert "PEP 517" in metadata.origin
    assert metadata.requires_dist == ()
    again = dependencies_of(index, None, sdist)
    assert "cached" in again.origin


def test_build_requirements_come_from_pyproject_or_the_setuptools_default(index):
    numpy = _file(index, "numpy", "numpy-2.1.3.tar.gz")
    assert {r.name.lower() for r in sdist_build_requires(index, numpy)} >= {
        "cython",
        "meson-python",
    }
    six = _file(index, "six", "six-1.16.0.tar.gz")
    assert [str(r) for r in sdist_build_requires(index, six)] == ["setuptools>=40.8.0"]
