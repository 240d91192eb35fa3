"""pip, uv and pypi-simple install from and read our index, served by the real server."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from pypi_simple import ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY, PyPISimple

from builds.index import publishing
from builds.lockfile import hashed_requirements
from builds.models import Artifact, BuildJob
from builds.runners.local import LocalRunner
from builds.worker import LocalBuildQueue, drain

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]

UV = Path(sys.executable).parent / "uv"
# The host's pip configuration adds extra indexes; the clients must see only ours.
CLEAN_ENV = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "UV_NO_CONFIG": "1"}


@pytest.fixture
def refined(settings, storage_dir, plan_of, tmp_path):
    """six and markupsafe built from their sdists by the local runner, idna reused."""
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    plan = plan_of(
        ("six", "six-1.16.0.tar.gz"),
        ("markupsafe", "MarkupSafe-2.1.5.tar.gz"),
        ("idna", "idna-3.7-py3-none-any.whl"),
    )
    drain(LocalBuildQueue(), LocalRunner(timeout=600, pip_cache=tmp_path / "pip"), "t", pool_size=2)
    statuses = dict(BuildJob.objects.filter(plan=plan).values_list("name", "status"))
    assert statuses == {"six": "built", "markupsafe": "built", "idna": "reused"}
    return plan


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


def _pip(python: Path, index: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            index,
            *args,
        ],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
    )


def _uv(python: Path, index: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--python",
            str(python),
            "--no-cache",
            "--index-url",
            index,
            *args,
        ],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
    )


def test_pip_installs_built_and_reused_wheels_plainly_and_with_hashes(
    refined, live_refinery, tmp_path
):
    index = f"{live_refinery}/simple/"
    python = _venv(tmp_path / "venv")

    plain = _pip(python, index, "--only-binary", ":all:", "six", "markupsafe", "idna")
    assert plain.returncode == 0, plain.stderr
    imported = subprocess.run(
        [
            str(python),
            "-c",
            "import six, markupsafe, idna; print(six.__version__, markupsafe.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.split() == ["1.16.0", "2.1.5"]

    hashed = tmp_path / "requirements.hashes.txt"
    hashed.write_text(hashed_requirements(refined))
    again = _venv(tmp_path / "hashed")
    locked = _pip(again, index, "--require-hashes", "-r", str(hashed))
    assert locked.returncode == 0, locked.stderr


def test_uv_installs_from_the_index_and_honours_exclude_newer(refined, live_refinery, tmp_path):
    index = f"{live_refinery}/simple/"
    python = _venv(tmp_path / "venv")
    later = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    installed = _uv(python, index, "--exclude-newer", later, "six", "markupsafe", "idna")
    assert installed.returncode == 0, installed.stderr

    earlier = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    excluded = _uv(_venv(tmp_path / "old"), index, "--exclude-newer", earlier, "six")
    assert excluded.returncode != 0  # every file was uploaded after that date
    assert "six" in excluded.stderr


def test_pip_skips_a_yanked_file_unless_it_is_pinned(refined, live_refinery, tmp_path):
    publishing.yank(Artifact.objects.get(name="markupsafe"), "testing yanks")
    index = f"{live_refinery}/simple/"
    unpinned = _pip(_venv(tmp_path / "a"), index, "markupsafe")
    assert unpinned.returncode != 0
    pinned = _pip(_venv(tmp_path / "b"), index, "markupsafe==2.1.5")
    assert pinned.returncode == 0, pinned.stderr
    assert "testing yanks" in pinned.stderr  # pip warns with the reason


def test_pypi_simple_reads_both_formats_and_agrees_with_the_store(refined, live_refinery):
    stored = {a.filename: a for a in Artifact.objects.all()}
    for accept in (ACCEPT_JSON_ONLY, ACCEPT_HTML_ONLY):
        with PyPISimple(f"{live_refinery}/simple/", accept=accept) as client:
            assert {p for p in client.get_index_page().projects} >= {"six", "markupsafe", "idna"}
            for name in ("six", "markupsafe", "idna"):
                page = client.get_project_page(name)
                assert page.repository_version == "1.1"
                for package in page.packages:
                    artifact = stored[package.filename]
                    assert package.digests["sha256"] == artifact.sha256
                    assert package.has_metadata is True
                    assert package.metadata_digests == {"sha256": artifact.metadata_sha256}
                    assert package.requires_python == (artifact.requires_python or None)
                    metadata = client.get_package_metadata(package)
                    assert f"Name: {artifact.name}" in metadata or "Name: MarkupSafe" in metadata
