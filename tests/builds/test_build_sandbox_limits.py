"""A podman build is held in: it cannot fork without end, fill the disk, exhaust memory,
change its image or gain privileges, and the one step with more rights (a recipe's system
packages) runs none of the sdist's code.

Each sdist below is an attacker's: its setup.py tries one thing while pip builds it, prints
what happened on lines starting with ATTACK, and fails so the build ends."""

from __future__ import annotations

import subprocess

import pytest
from django.conf import settings as django_settings

from builds.images import podman_env
from builds.log_reader import job_log
from builds.models import BuildJob
from builds.plan_builds import enqueue_plan_builds
from builds.runners.podman import PodmanRunner
from builds.runners.sandbox import SandboxLimits
from builds.worker import LocalBuildQueue, drain
from tests.factories import PlanFactory, TargetFactory
from tests.podman_containers import containers_of
from tests.sdists import make_sdist, sdist_node

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.network,
    pytest.mark.podman,
]

# Small limits, so each attack meets its limit within seconds.
LIMITS = SandboxLimits(memory="512m", pids=64, disk="64m")
# The attempt failed: for good, or to be tried again after a backoff.
FAILED = {"failed", "retry"}


def _hostile_sdist(directory, name: str, attack: str):
    setup = f"{attack}\nraise SystemExit('attack done')\n"
    files = {
        f"{name}-1.0/setup.py": setup.encode(),
        f"{name}-1.0/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
    }
    return make_sdist(directory, f"{name}-1.0.tar.gz", files)


@pytest.fixture
def build_attack(amd64_image, serve_sdist, tmp_path, storage_dir):
    """Builds an sdist whose setup.py runs ``attack``; answers the failed job and its log."""

    def build(attack: str, *, recipes: list[dict[str, object]] | None = None):
        name = f"attack{len(list(tmp_path.glob('*.tar.gz')))}"
        url, sha256 = serve_sdist(_hostile_sdist(tmp_path, name, attack))
        node = sdist_node(name, "1.0", url, sha256)
        plan = PlanFactory(target=TargetFactory(), dag={"nodes": [node], "edges": []})
        enqueue_plan_builds(plan, actor="test")
        if recipes:
            BuildJob.objects.filter(plan=plan).update(recipes=recipes)
        runner = PodmanRunner(
            timeout=300,
            podman_bin=django_settings.PODMAN_BIN,
            containers_conf=django_settings.PODMAN_CONTAINERS_CONF,
            ca_bundle=django_settings.RUNNER_CA_BUNDLE,
            limits=LIMITS,
        )
        drain(LocalBuildQueue(arches=["x86_64"]), runner, "sandbox-test", pool_size=1, once=True)
        job = BuildJob.objects.get(plan=plan)
        return job, job_log(job.pk)

    return build


def _podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [django_settings.PODMAN_BIN, *args],
        env=podman_env(django_settings.PODMAN_CONTAINERS_CONF),
        capture_output=True,
        text=True,
    )


def test_a_build_that_forks_forever_stops_at_the_process_limit(build_attack):
    job, log = build_attack(
        """
import os, time
forks = 0
try:
    while forks < 100000:
        if os.fork() == 0:
            os.close(1); os.close(2); time.sleep(5); os._exit(0)
        forks += 1
except OSError as exc:
    print("ATTACK forks stopped after", forks, exc, flush=True)
"""
    )
    assert job.status in FAILED, (job.failure_reason, job.error)
    assert "ATTACK forks stopped after" in log, log
    forks = int(log.split("ATTACK forks stopped after ")[1].split()[0])
    assert forks < LIMITS.pids
    assert "Resource temporarily unavailable" in log
    assert not containers_of(job.pk)


def test_a_build_that_writes_10_gb_of_scratch_is_stopped_at_the_disk_limit(build_attack):
    job, log = build_attack(
        """
import os
written = 0
try:
    with open("/tmp/fill", "wb") as out:
        while written < 10 * 1024:
            out.write(b"x" * 1024 * 1024); out.flush(); written += 1
except OSError as exc:
    print("ATTACK wrote", written, "MB then", exc, flush=True)
"""
    )
    assert job.status in FAILED, (job.failure_reason, job.error)
    assert "ATTACK wrote" in log, log
    assert int(log.split("ATTACK wrote ")[1].split()[0]) <= 64
    assert "No space left on device" in log


def test_a_build_that_writes_10_gb_into_its_output_folder_is_killed(build_attack):
    job, log = build_attack(
        """
import os
with open("/output/fill.bin", "wb") as out:
    for _ in range(10 * 1024):
        out.write(b"x" * 1024 * 1024)
print("ATTACK wrote 10 GB", flush=True)
"""
    )
    assert job.status in FAILED, (job.failure_reason, job.error)
    assert "ATTACK wrote 10 GB" not in log
    assert job.error == "the build wrote more than 64m into its output folder"
    assert "container killed" in log
    assert not containers_of(job.pk)


def test_a_build_that_exhausts_memory_is_killed_at_the_memory_limit(
    build_attack, tmp_path, monkeypatch
):
    workers_own = tmp_path / "worker-cwd"
    workers_own.mkdir()
    monkeypatch.chdir(workers_own)
    job, log = build_attack(
        """
chunks = []
for megabytes in range(2048):
    chunks.append(bytearray(1024 * 1024))
print("ATTACK allocated 2 GB", flush=True)
"""
    )
    assert job.status in FAILED, (job.failure_reason, job.error)
    assert "ATTACK allocated 2 GB" not in log
    assert "-9" in log or "Killed" in log or "137" in log, log
    # podman's conmon notes the kill in a file of its working directory; not the worker's.
    assert list(workers_own.iterdir()) == []


def test_a_build_cannot_change_its_image(build_attack, amd64_image):
    _job, log = build_attack(
        """
for path in ("/usr/bin/pip3", "/etc/passwd", "/usr/lib/python3/dist-packages/evil.py"):
    try:
        with open(path, "ab") as out:
            out.write(b"# changed")
        print("ATTACK changed", path, flush=True)
    except OSError as exc:
        print("ATTACK refused", path, exc, flush=True)
"""
    )
    assert "ATTACK changed" not in log
    assert log.count("Read-only file system") >= 3, log
    unchanged = _podman(
        "run", "--rm", amd64_image, "test", "!", "-e", "/usr/lib/python3/dist-packages/evil.py"
    )
    assert unchanged.returncode == 0


PRIVILEGE_ATTACK = """
import os, subprocess
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
for key in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs"):
    print("ATTACK", key, status[key].strip(), flush=True)
print("ATTACK uid", os.getuid(), flush=True)
open("/tmp/mine", "w").close()
for what, call in (
    ("chown", lambda: os.chown("/tmp/mine", 1000, 1000)),
    ("mknod", lambda: os.mknod("/tmp/disk", 0o600 | 0o060000, os.makedev(8, 0))),
    ("mount", lambda: subprocess.run(["mount", "-t", "tmpfs", "none", "/mnt"], check=True)),
    ("setuid-binary", lambda: subprocess.run(["su", "-c", "id"], check=True)),
):
    try:
        call()
        print("ATTACK gained", what, flush=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print("ATTACK refused", what, exc, flush=True)
print("ATTACK yaml header", os.path.exists("/usr/include/yaml.h"), flush=True)
"""


def test_a_build_runs_with_no_capabilities_and_cannot_gain_privileges(build_attack):
    job, log = build_attack(PRIVILEGE_ATTACK)

    assert job.status in FAILED, (job.failure_reason, job.error)
    for key in ("CapEff", "CapPrm", "CapBnd"):
        assert f"ATTACK {key} 0000000000000000" in log, log
    assert "ATTACK NoNewPrivs 1" in log
    assert "ATTACK gained" not in log
    for what in ("chown", "mknod", "mount", "setuid-binary"):
        assert f"ATTACK refused {what}" in log


def test_system_packages_are_installed_in_a_step_of_their_own_and_the_build_stays_unprivileged(
    build_attack,
):
    recipes = [{"type": "system_packages", "packages": ["libyaml-dev"]}]

    job, log = build_attack(PRIVILEGE_ATTACK, recipes=recipes)

    assert "podman runner: system packages" in log  # made now, or already made by a run before
    assert "ATTACK yaml header True" in log, log
    assert "ATTACK CapEff 0000000000000000" in log
    assert "ATTACK gained" not in log
    # The package step ran no code of the sdist's: the attack printed once, in the build step.
    assert log.count("ATTACK uid") == 1
    again, second_log = build_attack(PRIVILEGE_ATTACK, recipes=recipes)
    assert "system packages already in localhost/refinery-deps:" in second_log
    # Neither build's containers are left, nor the package step's (``…-deps-…``).
    assert not containers_of(job.pk, again.pk)


UNPACK = """
import io, os, subprocess, tarfile
script = b"#!/bin/sh\\necho ran\\n"
folder = tarfile.TarInfo("bundled")
folder.type, folder.mode, folder.uid, folder.gid = tarfile.DIRTYPE, 0o755, 1000, 1000
member = tarfile.TarInfo("bundled/configure")
member.size, member.mode, member.uid, member.gid = len(script), 0o755, 1000, 1000
with tarfile.open("/tmp/bundled.tar", "w") as archive:
    archive.addfile(folder)
    archive.addfile(member, io.BytesIO(script))
for how, unpack in (
    ("tarfile", lambda: tarfile.open("/tmp/bundled.tar").extractall("/tmp/by-tarfile")),
    ("tar", lambda: subprocess.run(["tar", "-xf", "/tmp/bundled.tar", "-C", "/tmp/by-tar"])),
):
    os.makedirs(f"/tmp/by-{how}", exist_ok=True)
    unpack()
    ran = subprocess.run([f"/tmp/by-{how}/bundled/configure"], capture_output=True, text=True)
    print("UNPACKED by", how, ran.stdout.strip(), flush=True)
"""


def test_a_bundled_archive_a_build_unpacks_keeps_its_modes_though_owners_cannot_be_kept(
    build_attack,
):
    # The build is root without CAP_CHOWN: as root, tarfile and GNU tar try to keep the
    # archive's owner; refused, tarfile used to skip the mode too (pyjq's ./configure).
    _job, log = build_attack(UNPACK)

    assert "UNPACKED by tarfile ran" in log, log
    assert "UNPACKED by tar ran" in log
