"""``manage.py refine`` runs without a cluster: what it caused is told to subscribers before
it exits."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from builds.models import Subscription
from tests.receivers import webhook_receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_refine_tells_its_subscribers_before_it_exits(settings, storage_dir, tmp_path, capsys):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.16.0\n")  # a wheel PyPI has: nothing to build
    with webhook_receiver() as receiver:
        Subscription.objects.create(
            kind="webhook",
            url=receiver.url,
            secret=SECRET,
            events=["input.planned", "input.built", "input.failed"],
        )

        call_command("refine", str(requirements), "--runner", "local")

        assert receiver.events() == ["input.planned", "input.built"]
        assert all(delivered.signed_by(SECRET) for delivered in receiver.received)
    assert "notifications: 2 delivery attempt(s) made" in capsys.readouterr().out
