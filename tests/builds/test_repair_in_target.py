"""A wheel that links a library only its builder container has is repaired in that
container: the library is grafted in, and the wheel then works on a machine without it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage

from builds.log_reader import job_log
from builds.models import Artifact, BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.runners.podman import PodmanRunner
from builds.worker import LocalBuildQueue, drain
from tests.factories import PlanFactory, TargetFactory
from tests.sdists import PROBE_YAJL, make_sdist

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.network,
    pytest.mark.podman,
]


@pytest.fixture
def sdist_server(serve_sdist, tmp_path):
    return serve_sdist(make_sdist(tmp_path, "probe_yajl-1.0.tar.gz", PROBE_YAJL))


def test_a_wheel_linking_a_container_only_library_is_repaired_in_the_container(
    amd64_image, sdist_server, storage_dir, tmp_path
):
    # The point is a library the container has and the host does not.
    if "libyajl" in subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout:
        pytest.skip("needs a host without libyajl (ldconfig -p lists it here)")
    url, sha256 = sdist_server
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    node = {
        "name": "probe-yajl",
        "version": "1.0",
        "action": "build",
        "roles": ["runtime"],
        "source": {"kind": "sdist", "url": url, "sha256": sha256},
    }
    plan = PlanFactory(target=target, dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")
    BuildJob.objects.filter(plan=plan).update(
        recipes=[{"type": "system_packages", "packages": ["libyajl-dev"]}]
    )
    runner = PodmanRunner(
        timeout=1200,
        podman_bin=django_settings.PODMAN_BIN,
        containers_conf=django_settings.PODMAN_CONTAINERS_CONF,
        ca_bundle=django_settings.RUNNER_CA_BUNDLE,
    )

    drain(LocalBuildQueue(arches=["x86_64"]), runner, "t", pool_size=1)

    job = BuildJob.objects.get(plan=plan)
    log = job_log(job.pk)
    assert job.status == "built", log
    assert 'required library "libyajl.so.2" could not be located' in log
    assert "repairing probe_yajl-1.0-cp311-cp311-linux_x86_64.whl" in log
    wheel = Artifact.objects.get(name="probe-yajl")
    assert wheel.filename.startswith("probe_yajl-1.0-cp311-cp311-")
    assert wheel.filename.endswith("manylinux_2_17_x86_64.whl")
    local = tmp_path / wheel.filename
    with default_storage.open(wheel.storage_key) as stored:
        local.write_bytes(stored.read())
    with zipfile.ZipFile(local) as archive:
        assert any(n.startswith("probe_yajl.libs/libyajl") for n in archive.namelist())

    venv = tmp_path / "client"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--no-index", str(local)],
        check=True,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    version = subprocess.run(
        [python, "-c", "import probe_yajl; print(probe_yajl.version())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(version.stdout) >= 20000  # yajl 2.x, from the grafted copy
