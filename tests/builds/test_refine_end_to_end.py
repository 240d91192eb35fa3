"""End to end on the real stack: a requirements file uploaded over HTTP is planned against
PyPI by the cluster, built in a Podman container, published, and pip installs it from our
index into a fresh venv. Also ``manage.py refine`` in the foreground."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from builds.log_reader import job_log
from builds.models import BuildEvent, BuildJob
from inputs.models import PendingInput

pytestmark = [
    pytest.mark.usefixtures("amd64_image"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.network,
    pytest.mark.podman,
]
CLEAN_ENV = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
REQUIREMENTS = b"docopt==0.6.2\nsix==1.16.0\n"  # docopt has no wheel on PyPI: it is built


def _pip_install_and_import(tmp_path, index: str, *args: str) -> str:
    venv = tmp_path / "client"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--no-cache-dir", "--index-url", index, *args],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
    )
    assert installed.returncode == 0, installed.stderr
    imported = subprocess.run(
        [python, "-c", "import docopt, six; print(docopt.__version__, six.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return imported.stdout.strip()


def test_an_upload_is_planned_built_in_podman_and_installable_from_our_index(
    settings, start_refinery, tmp_path
):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    base = start_refinery(
        cluster=True,
        env={
            "AUTO_PLAN": "true",
            "AUTO_BUILD": "true",
            "RUNNER": "podman",
            "WORKER_TOKEN": "e2e-token",
        },
    )

    response = httpx.post(
        f"{base}/api/requirements/upload",
        files={"file": ("requirements.txt", REQUIREMENTS)},
        headers={"X-Worker-Token": "e2e-token"},
        timeout=30,
    )
    assert response.status_code == 201, response.text

    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        pending = PendingInput.objects.get()
        jobs = dict(BuildJob.objects.values_list("name", "status"))
        if pending.status == "failed":
            pytest.fail(f"planning failed: {pending.error}")
        if jobs.get("docopt") in ("built", "failed", "missing") and "six" in jobs:
            break
        time.sleep(2)
    events = list(BuildEvent.objects.values_list("job__name", "kind", "message"))
    assert jobs.get("docopt") == "built", (pending.status, jobs, events)
    assert jobs["six"] == "reused"
    docopt = BuildJob.objects.get(name="docopt")
    assert docopt.artifacts.get().provenance["runner"] == "podman"
    # setuptools (its build requirement) came from our store into the container.
    assert "our wheels for the build environment: setuptools-" in job_log(docopt.pk)

    versions = _pip_install_and_import(
        tmp_path, f"{base}/simple/", "--only-binary", ":all:", "docopt==0.6.2", "six==1.16.0"
    )
    assert versions == "0.6.2 1.16.0"


def test_refine_runs_the_whole_way_in_the_foreground(settings, storage_dir, tmp_path, capsys):
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    settings.PUBLIC_URL = "http://refinery.example:8000"
    requirements = tmp_path / "requirements.txt"
    requirements.write_bytes(REQUIREMENTS)
    hashes = tmp_path / "requirements.hashes.txt"

    call_command("refine", str(requirements), "--runner", "podman", "--hashes", str(hashes))

    out = capsys.readouterr().out
    assert "4/4 published: http://refinery.example:8000/simple/" in out
    assert out.strip().splitlines()[-2] == (
        "pip install --index-url http://refinery.example:8000/simple/ --only-binary :all: "
        f"-r {requirements}"
    )
    assert dict(BuildJob.objects.values_list("name", "status"))["docopt"] == "built"
    locked = hashes.read_text()
    assert "docopt==0.6.2 --hash=sha256:" in locked
    assert "setuptools" not in locked  # a build requirement, not installed


def test_refine_refuses_a_bad_target_in_one_line(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_bytes(REQUIREMENTS)
    with pytest.raises(CommandError, match="is not a target such as cp311-manylinux_2_17_s390x"):
        call_command("refine", str(requirements), "--target", "cp311-windows_amd64")
