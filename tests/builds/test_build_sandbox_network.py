"""A build cannot reach the services on the refinery's host, and sees none of its secrets.

The sdist below is an attacker's: at build time it tries to connect to a service
listening on the host's loopback (as Postgres, Redis and the API do), directly and
through the host's gateway address, prints its whole environment, then fails so pip
shows what it printed."""

from __future__ import annotations

import socket
import threading

import pytest
from django.conf import settings as django_settings

from builds.log_reader import job_log
from builds.models import BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.runners.local import LocalRunner
from builds.runners.podman import PodmanRunner
from builds.runners.sandbox import SandboxLimits
from builds.worker import LocalBuildQueue, drain
from tests.factories import PlanFactory, TargetFactory
from tests.sdists import make_sdist, sdist_node

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.network,
]

SECRETS = {
    "WORKER_TOKEN": "s3cret-worker-token-1234",
    "DATABASE_URL": "postgres://refinery:s3cret-db-pass@127.0.0.1:5432/refinery",
    "OBJECT_STORE_SECRET_KEY": "s3cret-object-store-key",
    "DJANGO_SECRET_KEY": "s3cret-django-key",
}


def _probe_sdist(directory, port: int):
    setup = f"""
import os, socket
def probe(host):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((host, {port}))
        return "CONNECTED"
    except OSError as exc:
        return f"REFUSED ({{exc}})"
    finally:
        s.close()
print("PROBE loopback", probe("127.0.0.1"), flush=True)
print("PROBE gateway", probe("10.0.2.2"), flush=True)
for key, value in sorted(os.environ.items()):
    print("PROBE env", key, "=", value, flush=True)
raise SystemExit("probe done")
"""
    files = {
        "probe_net-1.0/setup.py": setup.encode(),
        "probe_net-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: probe-net\nVersion: 1.0\n",
    }
    return make_sdist(directory, "probe_net-1.0.tar.gz", files)


@pytest.fixture
def host_service():
    """A TCP service on the host's loopback, counting who got through."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[object] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], accepted
    listener.close()


def _build_probe(runner, serve_sdist, tmp_path, port, monkeypatch, settings) -> str:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings.WORKER_TOKEN = SECRETS["WORKER_TOKEN"]
    url, sha256 = serve_sdist(_probe_sdist(tmp_path, port))
    node = sdist_node("probe-net", "1.0", url, sha256)
    plan = PlanFactory(target=TargetFactory(), dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")
    drain(LocalBuildQueue(arches=["x86_64"]), runner, "sandbox-test", pool_size=1, once=True)
    job = BuildJob.objects.get(plan=plan)
    log = job_log(job.pk)
    assert "PROBE loopback" in log, log
    return log


def _podman(tmp_path, network: str) -> PodmanRunner:
    return PodmanRunner(
        timeout=600,
        podman_bin=django_settings.PODMAN_BIN,
        containers_conf=django_settings.PODMAN_CONTAINERS_CONF,
        ca_bundle=django_settings.RUNNER_CA_BUNDLE,
        limits=SandboxLimits(network=network),
    )


@pytest.mark.podman
def test_a_podman_build_cannot_reach_the_hosts_loopback_nor_see_its_secrets(
    amd64_image, host_service, serve_sdist, tmp_path, monkeypatch, settings, storage_dir
):
    port, accepted = host_service
    runner = _podman(tmp_path, django_settings.RUNNER_NETWORK)
    log = _build_probe(runner, serve_sdist, tmp_path, port, monkeypatch, settings)

    assert "PROBE loopback REFUSED" in log
    assert "PROBE gateway REFUSED" in log
    assert accepted == []
    for secret in SECRETS.values():
        assert secret not in log


@pytest.mark.podman
def test_the_host_network_is_an_explicit_opt_in_that_does_reach_it(
    amd64_image, host_service, serve_sdist, tmp_path, monkeypatch, settings, storage_dir
):
    port, accepted = host_service
    log = _build_probe(
        _podman(tmp_path, "host"), serve_sdist, tmp_path, port, monkeypatch, settings
    )
    assert "PROBE loopback CONNECTED" in log  # the probe would have seen a way in
    assert accepted


def test_a_local_build_sees_none_of_the_workers_secrets(
    host_service, serve_sdist, tmp_path, monkeypatch, settings, storage_dir
):
    port, _ = host_service
    runner = LocalRunner(timeout=600, pip_cache=tmp_path / "pip")
    log = _build_probe(runner, serve_sdist, tmp_path, port, monkeypatch, settings)
    assert "PROBE env JOB_NAME = probe-net" in log
    for secret in SECRETS.values():
        assert secret not in log
