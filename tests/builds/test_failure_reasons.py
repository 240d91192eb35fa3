"""A build that fails for want of a build dependency says so: missing_build_dependency, with
the log line that names what is missing."""

from __future__ import annotations

import pytest

from builds.failure_classes import missing_dependency
from builds.models import BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.runners.local import LocalRunner
from builds.worker import LocalBuildQueue, drain
from tests.factories import PlanFactory, TargetFactory
from tests.sdists import host_has_yajl, probe_yajl_node, sdist_node


@pytest.mark.parametrize(
    "line",
    [
        "probe.c:2:10: fatal error: yajl/yajl_version.h: No such file or directory",
        "/usr/bin/ld: cannot find -lffi: No such file or directory",
        "ERROR: No matching distribution found for cython<3",
        "Package libffi was not found in the pkg-config search path.",
        "error: command 'gcc' failed: No such file or directory",
        "error: can't find Rust compiler",
        "ModuleNotFoundError: No module named 'numpy'",
    ],
)
def test_missing_dependencies_are_recognised(line):
    assert missing_dependency(["building...", line, "error: subprocess-exited-with-error"]) == line


@pytest.mark.parametrize(
    "line",
    [
        "probe.c:4:1: error: expected ';' before '}' token",
        "SyntaxError: invalid syntax",
        "error: subprocess-exited-with-error",
    ],
)
def test_other_build_errors_are_not_called_missing_dependencies(line):
    assert missing_dependency([line]) is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.network
def test_a_build_lacking_a_header_on_the_local_runner_says_what_would_fix_it(storage_dir, tmp_path):
    if host_has_yajl():
        pytest.skip(f"needs a host without yajl headers: {host_has_yajl()}")
    node = probe_yajl_node(tmp_path)
    target = TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")
    plan = PlanFactory(target=target, dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")

    drain(LocalBuildQueue(), LocalRunner(timeout=600, pip_cache=tmp_path / "pip"), "t", pool_size=1)

    job = BuildJob.objects.get(plan=plan)
    # The local runner cannot install the package that would fix it: it says so, once.
    assert job.status == "failed"
    assert job.failure_reason == "missing_build_dependency"
    assert job.error.startswith(
        "needs system packages libyajl-dev (missing header yajl/yajl_version.h"
    )
    assert "the local runner cannot install system packages" in job.error


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_sdist_that_cannot_be_downloaded_names_the_cause_in_the_jobs_error(
    storage_dir, tmp_path
):
    # Nothing listens on port 9: the download is refused at once (four tries).
    node = sdist_node("probe-yajl", "1.0", "http://127.0.0.1:9/probe_yajl-1.0.tar.gz", "0" * 64)
    plan = PlanFactory(dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")

    drain(LocalBuildQueue(), LocalRunner(timeout=600, pip_cache=tmp_path / "pip"), "t", pool_size=1)

    job = BuildJob.objects.get(plan=plan)
    assert job.failure_reason == "infrastructure"
    assert job.error.startswith("download failed (")
    assert "Connection refused" in job.error
    assert job.error.endswith("for http://127.0.0.1:9/probe_yajl-1.0.tar.gz (exit code 67)")
