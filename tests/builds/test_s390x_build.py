"""A real s390x wheel, built in the s390x builder image under qemu emulation."""

from __future__ import annotations

import zipfile

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage

from builds.images import image_exists, image_name
from builds.models import Artifact, BuilderImage, BuildJob
from builds.runners.podman import PodmanRunner
from builds.worker import LocalBuildQueue, drain

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.network,
    pytest.mark.podman,
]
S390X = image_name("debian-bookworm", "s390x")
EM_S390 = 22  # ELF e_machine of IBM S/390


def test_markupsafe_builds_into_a_manylinux_s390x_wheel_with_an_s390_elf(
    plan_of, storage_dir, tmp_path
):
    assert image_exists(S390X), f"{S390X} is missing: run `make images`"
    BuilderImage.objects.update_or_create(
        preset="debian-bookworm", arch="s390x", defaults={"image": S390X, "image_id": ""}
    )
    plan = plan_of(
        ("markupsafe", "MarkupSafe-2.1.5.tar.gz"), target_platform="manylinux_2_17_s390x"
    )
    runner = PodmanRunner(
        timeout=1800,
        podman_bin=django_settings.PODMAN_BIN,
        containers_conf=django_settings.PODMAN_CONTAINERS_CONF,
        ca_bundle=django_settings.RUNNER_CA_BUNDLE,
    )

    assert drain(LocalBuildQueue(arches=["s390x"]), runner, "z-worker", pool_size=1) == 1

    assert BuildJob.objects.get(plan=plan).status == "built"
    wheel = Artifact.objects.get(name="markupsafe")
    assert wheel.filename.endswith("manylinux_2_17_s390x.whl")
    assert "cp311-cp311-manylinux_2_17_s390x" in wheel.tags
    local = tmp_path / wheel.filename
    with default_storage.open(wheel.storage_key) as stored:
        local.write_bytes(stored.read())
    with zipfile.ZipFile(local) as archive:
        shared = [n for n in archive.namelist() if n.endswith(".so")]
        assert shared, "the wheel carries no extension module"
        header = archive.read(shared[0])[:20]
    assert header[:4] == b"\x7fELF"
    assert header[5] == 2  # big-endian, as s390x is
    assert int.from_bytes(header[18:20], "big") == EM_S390
