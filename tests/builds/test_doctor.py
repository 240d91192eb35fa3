"""`manage.py doctor` says what is missing on this host and the command that fixes it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from builds.images import image_name
from builds.models import BuilderImage
from tests.factories import TargetFactory

pytestmark = [pytest.mark.django_db, pytest.mark.podman]


def test_doctor_reports_a_healthy_host(capsys, storage_dir):
    BuilderImage.objects.create(
        preset="debian-bookworm", arch="amd64", image=image_name("debian-bookworm", "amd64")
    )
    call_command("doctor")
    out = capsys.readouterr().out
    assert "database             ok" in out
    assert "builder image amd64  ok" in out
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
