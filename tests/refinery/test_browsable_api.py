"""The browsable API shows a view's docstring readably: ``names`` as code, no backticks."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_docstring_literals_render_as_code_in_the_browsable_api(admin_client):
    body = admin_client.get("/api/requirements/upload", HTTP_ACCEPT="text/html").content.decode()
    assert "<code>file</code>" in body
    assert "``file``" not in body
