"""A background worker that does a keyed action once per burst of asks, one run at a time."""

from __future__ import annotations

import threading

import pytest

from refinery.lib.coalescing_worker import CoalescingWorker


def test_asks_made_while_a_run_is_under_way_become_one_more_run_with_the_last_argument():
    runs: list[tuple[str, int]] = []
    first_started, release = threading.Event(), threading.Event()

    def action(key: str, argument: int) -> None:
        runs.append((key, argument))
        first_started.set()
        assert release.wait(10)

    with CoalescingWorker(action, name="test") as worker:
        worker.ask("plan-1", 0)
        assert first_started.wait(10)
        for argument in range(1, 51):
            worker.ask("plan-1", argument)
        worker.ask("plan-2", 7)
        release.set()

    assert runs == [("plan-1", 0), ("plan-1", 50), ("plan-2", 7)]


def test_closing_does_what_is_still_asked_for_even_while_it_settles():
    runs: list[int] = []
    worker: CoalescingWorker[str, int] = CoalescingWorker(
        lambda key, argument: runs.append(argument), name="test", settle=60
    )
    worker.ask("plan-1", 3)

    worker.close()  # does not wait out the 60 s

    assert runs == [3]


def test_an_action_that_fails_is_logged_and_the_next_ask_still_runs(caplog):
    runs: list[int] = []

    def action(key: str, argument: int) -> None:
        if argument == 1:
            raise OSError(28, "No space left on device")
        runs.append(argument)

    with CoalescingWorker(action, name="manifests") as worker:
        worker.ask("plan-1", 1)
        worker.ask("plan-2", 2)

    assert runs == [2]
    assert "manifests: the action for 'plan-1' failed" in caplog.text
    assert "No space left on device" in caplog.text


def test_asking_after_close_is_refused():
    worker: CoalescingWorker[str, int] = CoalescingWorker(lambda key, argument: None, name="test")
    worker.close()

    with pytest.raises(RuntimeError, match="asked after close"):
        worker.ask("plan-1", 1)
