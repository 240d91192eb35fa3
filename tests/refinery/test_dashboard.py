"""The dashboard shows staff both queues' figures with links into the filtered lists."""

from __future__ import annotations

import pytest
from django.urls import reverse

from builds.models import BuildJob
from tests.factories import BuildJobFactory, TargetFactory

pytestmark = pytest.mark.django_db


def test_staff_see_queue_depths_and_links_to_filtered_lists(admin_client):
    BuildJobFactory()
    BuildJobFactory(status=BuildJob.Status.FAILED)
    response = admin_client.get(reverse("pages:dashboard"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Build queue" in body
    assert "Plan queue" in body
    assert '<a href="/builds/?status=failed">' in body
    build_section = body.split('id="build-queue"')[1]
    assert "<dt>waiting</dt><dd>1</dd>" in build_section


def test_the_dashboard_warns_of_jobs_no_worker_here_can_build(admin_client):
    BuildJobFactory(target=TargetFactory(platform_tag="manylinux_2_17_ppc64le"))
    body = admin_client.get(reverse("pages:dashboard")).content.decode()
    assert "1 build wait for ppc64le" in body
    assert "manage.py build_image --arch ppc64el" in body
