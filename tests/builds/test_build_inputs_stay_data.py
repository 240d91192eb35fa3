"""Text from outside a build never becomes an option of pip: the build script writes its
constraints file only from ``name==version`` lines and hands every list of requirements to
pip after ``--``, so an sdist's own ``build-system.requires`` cannot add an index."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from builds.runners.local import BUILD_SCRIPT
from tests.sdists import make_sdist


def _sdist(tmp_path: Path, requires: list[str]) -> Path:
    pyproject = (
        "[build-system]\n"
        f"requires = {json.dumps(requires)}\n"
        'build-backend = "setuptools.build_meta"\n'
    )
    return make_sdist(
        tmp_path,
        "hostile-1.0.tar.gz",
        {
            "hostile-1.0/pyproject.toml": pyproject.encode(),
            "hostile-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n",
        },
    )


def _run_script(tmp_path: Path, sdist: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "JOB_NAME": "hostile",
        "JOB_VERSION": "1.0",
        "SDIST_URL": sdist.as_uri(),
        "SDIST_SHA256": hashlib.sha256(sdist.read_bytes()).hexdigest(),
        "OUTPUT_DIR": str(tmp_path / "out"),
        "WORK_DIR": str(tmp_path / "work"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, str(BUILD_SCRIPT)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_constraint_line_that_is_not_a_pin_refuses_the_job(tmp_path):
    result = _run_script(
        tmp_path,
        _sdist(tmp_path, ["setuptools"]),
        BUILD_CONSTRAINTS="setuptools==75.1.0\n--index-url=http://127.0.0.1:9/evil",
    )
    assert result.returncode == 65
    assert "refusing the job: '--index-url=http://127.0.0.1:9/evil' is not a name==version" in (
        result.stdout
    )
    assert not (tmp_path / "work" / "build-constraints.txt").exists()


def test_an_sdists_build_requires_are_requirements_never_options(tmp_path):
    sdist = _sdist(tmp_path, ["--index-url=http://127.0.0.1:9/evil", "setuptools"])
    recipes = [{"type": "build_requires", "requirements": ["wheel"]}]
    result = _run_script(tmp_path, sdist, RECIPES=json.dumps(recipes), REFINERY_BUILD_VENV="")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "install -- --index-url=http://127.0.0.1:9/evil setuptools wheel" in output
    assert "Invalid requirement: '--index-url=http://127.0.0.1:9/evil'" in output
    assert "Looking in indexes: http://127.0.0.1:9/evil" not in output
