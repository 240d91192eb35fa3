"""Builds take their build requirements from our own store first, at the plan's versions."""

from __future__ import annotations

import hashlib

import pytest

from builds.artifacts import store_wheel
from builds.log_reader import job_log
from builds.models import Artifact, BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.runners.local import LocalRunner
from builds.worker import LocalBuildQueue, drain
from plans.index_client import IndexClient
from tests.factories import PlanFactory, TargetFactory
from tests.sdists import make_sdist
from tests.wheels import make_wheel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]

SETUPTOOLS = "setuptools-75.8.0-py3-none-any.whl"
PYPROJECT = b"""[build-system]
requires = ["refinery-probe-backend==1.0", "setuptools==75.8.0"]
build-backend = "refinery_probe_backend"

[project]
name = "probe-pkg"
version = "1.0"
"""


def _sdist(directory) -> tuple[str, str]:
    path = make_sdist(
        directory,
        "probe_pkg-1.0.tar.gz",
        {
            "probe_pkg-1.0/pyproject.toml": PYPROJECT,
            "probe_pkg-1.0/probe_pkg/__init__.py": b"",
            "probe_pkg-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: probe-pkg\nVersion: 1.0\n",
        },
    )
    return path.as_uri(), hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_build_requirement_only_our_store_has_is_used_at_the_planned_version(
    storage_dir, tmp_path
):
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    # A PEP 517 backend that exists nowhere but in our store (as a wheel we built earlier).
    backend = make_wheel(
        tmp_path,
        "refinery_probe_backend",
        extra_files={
            "refinery_probe_backend/__init__.py": b"from setuptools.build_meta import *\n"
        },
    )
    store_wheel(
        backend,
        target=target,
        origin=Artifact.Origin.UPLOADED,
        name="refinery-probe-backend",
        version="1.0",
    )
    with IndexClient(["https://pypi.org/simple/"], tmp_path / "index") as client:
        setuptools = next(f for f in client.project("setuptools").files if f.filename == SETUPTOOLS)
    sdist_url, sdist_sha256 = _sdist(tmp_path)
    plan = PlanFactory(
        target=target,
        dag={
            "nodes": [
                {
                    "name": "probe-pkg",
                    "version": "1.0",
                    "action": "build",
                    "roles": ["runtime"],
                    "source": {"kind": "sdist", "url": sdist_url, "sha256": sdist_sha256},
                },
                {
                    "name": "refinery-probe-backend",
                    "version": "1.0",
                    "action": "cached",
                    "roles": ["build"],
                    "source": {},
                },
                {
                    "name": "setuptools",
                    "version": "75.8.0",
                    "action": "reuse",
                    "roles": ["build"],
                    "source": {"kind": "wheel", **setuptools.as_source()},
                },
            ],
            "edges": [
                {"from": "probe-pkg==1.0", "to": "refinery-probe-backend==1.0", "kind": "build"},
                {"from": "probe-pkg==1.0", "to": "setuptools==75.8.0", "kind": "build"},
            ],
        },
    )
    enqueue_plan_builds(plan, actor="test")

    drain(LocalBuildQueue(), LocalRunner(timeout=600, pip_cache=tmp_path / "pip"), "t", pool_size=1)

    job = BuildJob.objects.get(name="probe-pkg")
    log = job_log(job.pk)
    assert job.status == "built", log
    assert (
        "our wheels for the build environment: refinery_probe_backend-1.0-py3-none-any.whl, "
        f"{SETUPTOOLS}" in log
    )
    assert (
        "build environment pinned by the plan: refinery-probe-backend==1.0 setuptools==75.8.0"
        in log
    )
    artifact = job.artifacts.get()
    assert artifact.filename == "probe_pkg-1.0-py3-none-any.whl"
    assert artifact.provenance["build_environment"] == [
        "refinery-probe-backend==1.0",
        "setuptools==75.8.0",
    ]
