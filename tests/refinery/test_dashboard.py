"""The dashboard shows staff both queues' figures; others are sent to log in."""

from __future__ import annotations

import pytest
from django.urls import reverse

from builds.models import BuildJob
from tests.factories import BuildJobFactory

pytestmark = pytest.mark.django_db


def test_staff_see_queue_depths_and_links_to_filtered_lists(admin_client):
    BuildJobFactory()
    BuildJobFactory(status=BuildJob.Status.FAILED)
    response = admin_client.get(reverse("dashboard"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Build queue" in body
    assert "Plan queue" in body
    assert f"{reverse('admin:builds_buildjob_changelist')}?status__exact=failed" in body
    build_section = body.split('id="build-queue"')[1]
    assert "<dt>waiting</dt><dd>1</dd>" in build_section


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
