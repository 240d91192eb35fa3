"""Management commands: they do their job, and a bad argument gets one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from builds.models import BuildJob
from inputs.models import PendingInput
from tests.factories import BuildJobFactory, PendingInputFactory, PlanInputFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_enqueue_plan_and_replan_move_inputs_into_the_plan_queue(capsys):
    pending = PendingInputFactory()
    failed = PendingInputFactory(status=PendingInput.Status.FAILED)
    call_command("enqueue_plan", str(pending.pk))
    call_command("replan", str(failed.pk))
    pending.refresh_from_db()
    failed.refresh_from_db()
    assert pending.status == failed.status == PendingInput.Status.PLANNING
    assert "queued for planning" in capsys.readouterr().out


def test_enqueue_builds_enqueues_a_plan_and_one_node(capsys):
    plan = PlanInputFactory().plan
    call_command("enqueue_builds", str(plan.pk), "--node", "markupsafe==2.1.5")
    assert "1 enqueued" in capsys.readouterr().out
    assert BuildJob.objects.get(plan=plan).name == "markupsafe"


def test_requeue_retries_failed_jobs_by_id_and_in_bulk(capsys):
    one = BuildJobFactory(status=BuildJob.Status.FAILED)
    two = BuildJobFactory(status=BuildJob.Status.FAILED)
    call_command("requeue", str(one.pk))
    call_command("requeue", "--failed")
    assert set(BuildJob.objects.values_list("status", flat=True)) == {"pending"}
    assert two.events.last().actor == "cli"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["enqueue_plan", "abc"], "'abc' is not a valid pending input id"),
        (["enqueue_plan", "999999"], "pending input 999999 does not exist"),
        (["replan", "999999"], "pending input 999999 does not exist"),
        (["enqueue_builds", "0"], "'0' is not a valid plan id"),
        (["enqueue_builds", "999999"], "plan 999999 does not exist"),
        (["requeue", "999999"], "build job 999999 does not exist"),
        (["requeue"], "give job ids, or --failed, or --expired"),
        (["requeue", "--expired", "--failed"], "exactly one of them"),
        (["requeue", "--expired", "--plan", "3"], "--plan only goes with --failed"),
        (["serve", "--workers", "0"], "--workers '0' is not a number from 1 to 64"),
        (["serve", "--workers", "2", "--server", "daphne"], "--workers needs --server uvicorn"),
        (["front_config", "--upstream", "web; evil"], "upstream 'web; evil' is not host:port"),
        (["front_config", "--listen", "99999"], "listen '99999' is not host:port"),
    ],
)
def test_a_bad_argument_is_a_command_error_naming_it(argv, message):
    with pytest.raises(CommandError, match=message):
        call_command(*argv)


def test_a_refused_operation_is_a_command_error_not_a_traceback():
    planned = PendingInputFactory(status=PendingInput.Status.PLANNED)
    with pytest.raises(CommandError, match="replan it instead"):
        call_command("enqueue_plan", str(planned.pk))
    built = BuildJobFactory(status=BuildJob.Status.BUILT)
    with pytest.raises(CommandError, match="only failed, cancelled"):
        call_command("requeue", str(built.pk))


@pytest.mark.parametrize(
    "argv",
    [["enqueue_plan", "x1"], ["requeue", "--plan", "x"], ["enqueue_builds", "-3"]],
)
def test_from_the_shell_a_bad_argument_prints_a_single_line(argv, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["VAR_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_ensure_admin_creates_the_account_once_and_prints_a_generated_password(capsys, monkeypatch):
    monkeypatch.delenv("REFINERY_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("REFINERY_ADMIN_USER", "boss")
    call_command("ensure_admin")
    first = capsys.readouterr().out
    call_command("ensure_admin")
    second = capsys.readouterr().out
    assert "created admin 'boss' with password" in first
    assert "password" not in second
    monkeypatch.setenv("REFINERY_ADMIN_PASSWORD", "correct-horse-battery")
    call_command("ensure_admin")
    assert get_user_model().objects.get(username="boss").check_password("correct-horse-battery")
