"""Numbers that only look like numbers ("²" passes str.isdigit(), then int() fails) are
refused as bad input wherever a number is read: a 400 naming the parameter, a one-line
command error, a header taken as absent; never a 500 or a traceback."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from builds.notifications.sender import _retry_after
from refinery.lib.numbers import natural_number

pytestmark = pytest.mark.django_db

LOOKALIKES = ["²", "٣", "1²", "¹⁰"]


@pytest.mark.parametrize("value", LOOKALIKES)
def test_a_list_refuses_a_limit_or_offset_that_is_not_ascii_digits(automation_api, value):
    limit = automation_api.get("/api/builds", {"limit": value})
    offset = automation_api.get("/api/builds", {"offset": value})

    for response, name in ((limit, "limit"), (offset, "offset")):
        assert response.status_code == 400
        assert response.json()["error"].startswith(f"{name}: {value!r} is not ")


def test_a_worker_pop_refuses_a_lookalike_max(worker_api):
    response = worker_api.post("/api/build-queue/pop?max=²&worker=w")
    assert response.status_code == 400
    assert response.json()["error"] == "max: '²' is not an integer from 1 to 100"


def test_a_plan_worker_pop_refuses_a_lookalike_max(worker_api):
    response = worker_api.post("/api/pending-inputs/pop?max=²&worker=w")
    assert response.status_code == 400
    assert response.json()["error"].startswith("max: '²' is not an integer")


def test_a_log_request_refuses_a_lookalike_job_id(automation_api):
    response = automation_api.get("/api/logs/six/1.0", {"job": "²"})
    assert response.status_code == 400
    assert response.json()["error"] == "job: '²' is not a non-negative integer"


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("drain", ["--max", "²"]),
        ("drain", ["--grace", "²"]),
        ("logs", ["²"]),
        ("refine", ["--timeout", "²", "requirements.txt"]),
    ],
)
def test_a_command_refuses_a_lookalike_number_in_one_line(command, args):
    with pytest.raises(CommandError) as refused:
        call_command(command, *args)
    assert "²" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_webhook_receivers_lookalike_retry_after_is_ignored():
    assert _retry_after("²") is None
    assert _retry_after(" 30 ") == 30.0


def test_only_ascii_digits_are_natural_numbers():
    assert natural_number("42") == 42
    assert [natural_number(value) for value in [*LOOKALIKES, "", "-1", "4 2", "0x1"]] == [None] * 8
