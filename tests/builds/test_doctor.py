"""`manage.py doctor` says what is missing on this host and the command that fixes it."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from builds.images import image_name
from builds.models import BuilderImage
from tests.factories import BuildJobFactory, TargetFactory

pytestmark = [pytest.mark.django_db, pytest.mark.podman]


def test_doctor_reports_a_healthy_host(capsys, storage_dir):
    BuilderImage.objects.create(
        preset="debian-bookworm", arch="amd64", image=image_name("debian-bookworm", "amd64")
    )
    call_command("doctor")
    out = capsys.readouterr().out
    assert re.search(r"^database +ok ", out, re.MULTILINE)
    assert re.search(r"^builder image amd64 +ok ", out, re.MULTILINE)
    assert "runtime runc" in out


def test_doctor_names_a_missing_s390x_image_and_how_to_make_it(capsys, storage_dir):
    BuilderImage.objects.create(
        preset="debian-bookworm", arch="amd64", image=image_name("debian-bookworm", "amd64")
    )
    TargetFactory(platform_tag="manylinux_2_17_s390x")
    with pytest.raises(CommandError, match="builder image s390x"):
        call_command("doctor")
    out = capsys.readouterr().out
    assert "python manage.py build_image --preset debian-bookworm --arch s390x" in out


def test_doctor_says_when_builds_wait_for_an_architecture_nothing_here_builds(capsys, storage_dir):
    BuildJobFactory(target=TargetFactory(platform_tag="manylinux_2_17_ppc64le"))
    with pytest.raises(CommandError, match="builds waiting for ppc64le"):
        call_command("doctor")
    out = capsys.readouterr().out
    assert "1 job(s) wait for ppc64le" in out
    assert "build_image --arch ppc64el" in out
