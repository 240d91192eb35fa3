"""`manage.py serve --port N` (what `make run` runs) names its own address in links and
install lines unless PUBLIC_URL says otherwise."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_served_port_is_the_public_url_by_default(start_refinery):
    base = start_refinery(env={"PUBLIC_URL": ""})
    page = httpx.get(f"{base}/", timeout=10).text
    assert f"pip install --index-url {base}/simple/" in page


def test_an_explicit_public_url_wins(start_refinery):
    base = start_refinery(env={"PUBLIC_URL": "https://wheels.example.org"})
    response = httpx.get(f"{base}/", timeout=10, headers={"X-Forwarded-Proto": "https"})
    page = response.text
    assert response.status_code == 200
    assert "pip install --index-url https://wheels.example.org/simple/" in page
