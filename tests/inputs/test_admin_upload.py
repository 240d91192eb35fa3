"""Operators upload requirements from the admin, through the same validating service."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inputs.models import PendingInput
from tests.conftest import stored_files

pytestmark = pytest.mark.django_db
URL = "admin:inputs_pendinginput_upload"


def _post(client, content: bytes, **extra):
    data = {
        "file": SimpleUploadedFile("reqs.txt", content),
        "python_version": "3.11",
        "platform_tag": "manylinux_2_17_s390x",
        "priority": "2",
        "strategy": "",
        **extra,
    }
    return client.post(reverse(URL), data, follow=True)


def test_the_changelist_links_to_the_upload_form(admin_client):
    page = admin_client.get(reverse("admin:inputs_pendinginput_changelist")).content.decode()
    assert reverse(URL) in page
    assert admin_client.get(reverse(URL)).status_code == 200


def test_an_admin_upload_creates_the_input_and_shows_it(admin_client, settings, storage_dir):
    settings.AUTO_PLAN = False
    response = _post(admin_client, b"six==1.16.0\n")
    pending = PendingInput.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "admin:inputs_pendinginput_change", args=[pending.pk]
    )
    assert (pending.platform_tag, pending.priority) == ("manylinux_2_17_s390x", 2)
    assert "stored (pending)" in response.content.decode()


def test_a_rejected_admin_upload_shows_the_line_and_stores_nothing(admin_client, storage_dir):
    response = _post(admin_client, b"six\n--index-url https://evil.example/simple\n")
    assert response.status_code == 200
    assert "line 2: index options are not allowed" in response.content.decode()
    assert PendingInput.objects.count() == 0
    assert stored_files(storage_dir) == []


def test_the_upload_form_is_for_staff_only(client):
    response = client.get(reverse(URL))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
