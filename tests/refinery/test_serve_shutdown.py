"""SIGTERM to ``manage.py serve`` in the middle of a build: the build is handed back within
the grace period (its attempt refunded), never left ``building``, and nothing of it runs on."""

from __future__ import annotations

import pytest

from tests.drills import sigterm_to_serve_mid_build

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.network]


def test_sigterm_to_serve_hands_a_running_build_back(start_refinery, settings, tmp_path):
    took = sigterm_to_serve_mid_build(start_refinery, settings, tmp_path)
    print(f"SIGTERM drill: serve stopped and the build was handed back in {took:.1f} s")
