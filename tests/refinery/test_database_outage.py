"""The database going away under a running server (a restart, a failover): requests get 503
with Retry-After and a one-line reason, never a 500, and the server serves again on its own
once the database is back."""

from __future__ import annotations

import time

import httpx
import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.authtoken.models import Token

from tests.tcp_forwarder import Forwarder

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a database server to cut")
def test_a_database_that_goes_away_is_a_503_with_retry_after_and_the_server_recovers(
    start_refinery,
):
    operator = User.objects.create_user("ops", password="pw-for-the-drill", is_staff=True)
    token = Token.objects.create(user=operator).key
    db = connection.settings_dict
    forwarder = Forwarder(int(db["PORT"] or 5432))
    forwarder.start()
    url = f"postgres://{db['USER'] or 'root'}@127.0.0.1:{forwarder.port}/{db['NAME']}"
    base = start_refinery(env={"DATABASE_URL": url})
    headers = {"Authorization": f"Token {token}"}
    browser = httpx.Client(base_url=base, timeout=30)
    try:
        assert httpx.get(f"{base}/api/builds", headers=headers, timeout=10).status_code == 200
        browser.get("/admin/login/")
        signed_in = browser.post(
            "/admin/login/?next=/builds/",
            data={
                "username": "ops",
                "password": "pw-for-the-drill",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/admin/login/"},
        )
        assert signed_in.status_code == 302
        assert browser.get("/builds/").status_code == 200

        forwarder.stop()
        away = httpx.get(f"{base}/api/builds", headers=headers, timeout=30)
        page = browser.get("/builds/")

        assert away.status_code == 503
        assert away.headers["Retry-After"] == "5"
        assert away.json() == {"error": "the database is unavailable for the moment; retry shortly"}
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "5"
        assert page.text == "the database is unavailable for the moment; retry shortly\n"

        forwarder.start()
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and status != 200:
            status = httpx.get(f"{base}/api/builds", headers=headers, timeout=10).status_code
            time.sleep(0.5)
        assert status == 200
        assert browser.get("/builds/").status_code == 200
    finally:
        browser.close()
        forwarder.stop()
