"""The podman runner builds real sdists in the offline-made builder image, through the worker."""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings as django_settings

from builds import queue as build_queue
from builds.log_reader import job_log
from builds.models import Artifact, BuildJob
from builds.runners.podman import PodmanRunner
from builds.worker import LocalBuildQueue, drain
from tests.factories import BuildSpecFactory
from tests.podman_containers import containers_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.network,
    pytest.mark.podman,
]


@pytest.fixture
def podman(tmp_path):
    def make(timeout: float = 900) -> PodmanRunner:
        return PodmanRunner(
            timeout=timeout,
            podman_bin=django_settings.PODMAN_BIN,
            containers_conf=django_settings.PODMAN_CONTAINERS_CONF,
            ca_bundle=django_settings.RUNNER_CA_BUNDLE,
        )

    return make


def test_six_and_markupsafe_are_built_in_containers_and_stored(
    amd64_image, podman, plan_of, storage_dir
):
    plan = plan_of(("six", "six-1.16.0.tar.gz"), ("markupsafe", "MarkupSafe-2.1.5.tar.gz"))

    done = drain(LocalBuildQueue(arches=["x86_64"]), podman(), "podman-worker", pool_size=2)

    assert done == 2
    assert set(BuildJob.objects.filter(plan=plan).values_list("status", flat=True)) == {"built"}
    markupsafe = Artifact.objects.get(name="markupsafe")
    assert "manylinux_2_17_x86_64" in markupsafe.filename
    assert markupsafe.provenance["runner"] == "podman"
    assert markupsafe.provenance["image"] == amd64_image
    log = job_log(markupsafe.job_id)
    assert f"podman runner: {amd64_image}" in log
    assert "sha256 verified" in log
    assert not containers_of(*BuildJob.objects.filter(plan=plan).values_list("pk", flat=True))


# numpy takes minutes to build: long enough to be killed mid-build, every time.
NUMPY = ("numpy", "numpy-2.1.3.tar.gz")


def test_a_build_over_the_timeout_has_its_container_killed(
    amd64_image, podman, plan_of, storage_dir
):
    plan = plan_of(NUMPY)

    drain(LocalBuildQueue(arches=["x86_64"]), podman(timeout=8), "w", pool_size=1, once=True)

    job = BuildJob.objects.get(plan=plan)
    assert job.failure_reason == "timeout"
    assert "container killed" in job_log(job.pk)
    assert not containers_of(job.pk)


def test_an_operator_cancel_stops_the_container_within_seconds(
    amd64_image, podman, plan_of, storage_dir, settings
):
    settings.BUILD_LEASE_SEC = 300  # the lease's heartbeat is every 100 s: not what notices
    plan = plan_of(NUMPY)
    job = BuildJob.objects.get(plan=plan)
    worker = threading.Thread(
        target=drain,
        args=(LocalBuildQueue(arches=["x86_64"]), podman(), "w"),
        kwargs={"pool_size": 1, "once": True},
    )
    worker.start()
    deadline = time.monotonic() + 120
    while "podman runner:" not in job_log(job.pk) and time.monotonic() < deadline:
        time.sleep(0.2)
    build_queue.cancel(BuildJob.objects.get(pk=job.pk), actor="ops")
    cancelled_at = time.monotonic()
    while containers_of(job.pk):
        assert time.monotonic() - cancelled_at < 5, "the container outlived the cancel by 5 s"
        time.sleep(0.2)
    worker.join(timeout=120)

    assert not worker.is_alive()
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert "container killed" in job_log(job.pk)
    assert not containers_of(job.pk)


def test_package_names_and_recipes_reach_podman_as_argv_items_only(tmp_path):
    runner = PodmanRunner(timeout=10, image="localhost/x:y")
    hostile = BuildSpecFactory(
        name="six; rm -rf /",
        version="1.0$(reboot)",
        recipes=[{"type": "env", "vars": {"CFLAGS": "`id`"}}],
    )
    argv = runner.command(hostile, tmp_path / "out", "refinery-job-1-test")
    assert "JOB_NAME=six; rm -rf /" in argv
    assert "JOB_VERSION=1.0$(reboot)" in argv
    assert argv[-2:] == ["python3", "/usr/local/bin/refinery-build"]
    assert "sh" not in argv
    assert "-c" not in argv
