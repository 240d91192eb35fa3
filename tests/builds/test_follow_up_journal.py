"""A drain killed in the moment between a build's commit and its follow-ups (index pages,
input outcome, plan manifest, build folder) leaves a journal; the reaper redoes what it had
not done."""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from builds import tasks
from builds.follow_up_journal import Journal, journal_directory, redo_lost_follow_ups
from builds.models import BuildJob, Notification, Subscription
from builds.orphans import output_prefix
from builds.worker import LocalBuildQueue
from inputs.models import PendingInput
from refinery.lib.coalescing_worker import CoalescingWorker
from tests.factories import (
    ArtifactFactory,
    BuildJobFactory,
    PlanFactory,
    PlanInputFactory,
    TargetFactory,
    dag,
)

pytestmark = pytest.mark.django_db
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def x86(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.PYTHON_VERSION = "3.11"
    settings.PLATFORM_TAG = "manylinux_2_17_x86_64"
    return TargetFactory(python_version="3.11", platform_tag="manylinux_2_17_x86_64")


def _wheel(target, version):
    return ArtifactFactory(
        target=target,
        name="demo",
        version=version,
        filename=f"demo-{version}-py3-none-any.whl",
        tags=["py3-none-any"],
    )


def _hold_a_journal_then_wait(ready) -> None:  # the forked "drain": no database, no Django
    journal = Journal(("manifests", "follow-ups"))
    ready.send(str(journal.path))
    time.sleep(600)


def _killed_drain_journal() -> str:
    """A journal held by a real process, then that process killed with SIGKILL."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    drain = context.Process(target=_hold_a_journal_then_wait, args=(send,), daemon=True)
    drain.start()
    assert receive.poll(30)
    path: str = receive.recv()
    os.kill(drain.pid, signal.SIGKILL)
    drain.join(30)
    return path


def test_the_reaper_redoes_the_follow_ups_a_killed_drain_left_undone(client, x86):
    _wheel(x86, "1.0")
    assert len(client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()["files"]) == 1
    Subscription.objects.create(
        kind=Subscription.Kind.WEBHOOK,
        url="http://127.0.0.1:9/hook",
        secret="whsec_" + "a" * 32,
        events=["input.built"],
    )
    plan = PlanFactory(target=x86, dag=dag(("demo", "2.0", "build")))
    link = PlanInputFactory(plan=plan, input__status=PendingInput.Status.QUEUED)

    journal = _killed_drain_journal()
    # What the drain committed before it died; its follow-ups died with it.
    job = BuildJobFactory(name="demo", version="2.0", target=x86, plan=plan, status="built")
    _wheel(x86, "2.0")
    scratch = Path(tempfile.mkdtemp(prefix=output_prefix(job.pk)))
    assert len(client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()["files"]) == 1

    report = tasks.reap_expired_leases()

    assert "follow-ups: 1 journal(s) of gone drains: 1 project page(s), 1 job outcome(s)" in report
    files = client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()["files"]
    assert [f["filename"] for f in files] == [
        "demo-1.0-py3-none-any.whl",
        "demo-2.0-py3-none-any.whl",
    ]
    assert Notification.objects.filter(
        event="input.built", dedupe_key=f"input.built:{link.input_id}:{plan.pk}"
    ).exists()
    assert default_storage.exists(f"manifests/plan-{plan.pk}.json")
    assert not scratch.exists()
    assert not os.path.exists(journal)
    assert str(redo_lost_follow_ups()).startswith("0 journal(s)")


def test_a_running_drains_journal_is_left_alone(x86):
    journal = Journal(("follow-ups",))

    assert redo_lost_follow_ups().journals == 0
    assert journal.path.exists()
    journal.close()
    assert not journal.path.exists()


def test_a_drain_keeps_a_journal_only_while_it_runs(x86):
    with LocalBuildQueue().follow_ups_in_background():
        (_held,) = journal_directory().glob("*.journal")
        assert redo_lost_follow_ups().journals == 0  # locked by this drain
    assert list(journal_directory().glob("*.journal")) == []
    assert not BuildJob.objects.exists()


def test_a_background_thread_says_when_all_it_was_asked_is_done():
    done: list[float] = []
    idle = threading.Event()

    def settled(moment: float) -> None:
        done.append(moment)
        idle.set()

    ran: list[int] = []
    worker: CoalescingWorker[str, int] = CoalescingWorker(
        lambda key, n: ran.append(n), name="t", on_idle=settled
    )
    with worker:
        asked = time.time()
        worker.ask("k", 1)
        assert idle.wait(10)

    assert ran == [1]
    assert done[0] >= asked


def test_a_journal_its_drain_died_making_is_dropped_after_a_minute(x86):
    directory = journal_directory()
    directory.mkdir(parents=True)
    (recent := directory / "1-recent.new").write_text("")
    (old := directory / "1-old.new").write_text("")
    os.utime(old, (time.time() - 120, time.time() - 120))

    assert redo_lost_follow_ups().journals == 0

    assert (recent.exists(), old.exists()) == (True, False)
