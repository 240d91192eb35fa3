"""For the host, the versions we plan are the ones pip picks, in the same run, from real PyPI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging import tags
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from inputs.target_env import TargetEnvironment
from plans.dag import build_plan_dag

pytestmark = [pytest.mark.slow, pytest.mark.network]

SETS = {
    "small pins": [
        "requests==2.32.3",
        "six==1.16.0",
        "markupsafe==2.1.5",
        "pyyaml==6.0.2",
        "cffi==1.17.1",
    ],
    "web stack": ["flask", "requests[socks]", "django>=4.2,<5.3", "celery"],
    "with markers and extras": [
        "httpx[http2]",
        'tomli; python_version < "3.11"',
        'typing-extensions; python_version >= "3.11"',
        "sqlalchemy[asyncio]<2.1",
    ],
}


def host_target() -> TargetEnvironment:
    platform = next(t.platform for t in tags.sys_tags() if t.platform.startswith("manylinux"))
    python = ".".join(str(part) for part in sys.version_info[:3])
    return TargetEnvironment(python, platform)


def pip_picks(requirements: list[str], tmp_path: Path) -> dict[str, str]:
    """``pip install --dry-run --ignore-installed --report`` against PyPI alone."""
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # the host's pip config adds other indexes
    env["PIP_CERT"] = os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--disable-pip-version-check",
            "--index-url",
            "https://pypi.org/simple/",
            "--report",
            str(report),
            *requirements,
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    installed = json.loads(report.read_text())["install"]
    return {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in installed
    }


@pytest.mark.parametrize("name", list(SETS))
def test_planned_versions_for_the_host_equal_what_pip_installs(name, index, tmp_path):
    requirements = SETS[name]
    env = host_target()
    wanted = [Requirement(r) for r in requirements]
    wanted = [r for r in wanted if env.evaluate(r.marker)]
    for requirement in wanted:
        requirement.marker = None

    dag = build_plan_dag(wanted, index, env).as_json()

    ours = {n["name"]: n["version"] for n in dag["nodes"] if "runtime" in n["roles"]}
    assert ours == pip_picks(requirements, tmp_path)
