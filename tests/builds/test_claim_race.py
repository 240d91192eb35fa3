"""Many workers draining one queue at once: every job is claimed exactly once, none is lost."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from builds import queue
from builds.models import BuildEvent, BuildJob
from tests.factories import TargetFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

JOBS = 10_000
WORKERS = 16


def _drain(worker_id: str, claimed: list[int], errors: list[BaseException]) -> None:
    try:
        while True:
            jobs = queue.claim(worker_id, max_n=5)
            if not jobs:
                return
            for job in jobs:
                claimed.append(job.pk)
                queue.complete(job.pk, worker_id)
    except BaseException as exc:  # surfaced by the test, not swallowed
        errors.append(exc)
    finally:
        connection.close()  # each thread has its own connection; give it back


def test_sixteen_concurrent_workers_claim_each_of_10000_jobs_exactly_once():
    target = TargetFactory()
    now = timezone.now()
    BuildJob.objects.bulk_create(
        BuildJob(
            name=f"pkg-{i}", version="1.0", target=target, enqueued_at=now, next_attempt_at=now
        )
        for i in range(JOBS)
    )
    claimed: dict[str, list[int]] = {f"worker-{w}": [] for w in range(WORKERS)}
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_drain, args=(worker, ids, errors))
        for worker, ids in claimed.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    every_claim = [pk for ids in claimed.values() for pk in ids]
    assert len(every_claim) == JOBS
    assert [pk for pk, n in Counter(every_claim).items() if n > 1] == []
    assert set(every_claim) == set(BuildJob.objects.values_list("pk", flat=True))
    assert BuildJob.objects.exclude(status=BuildJob.Status.BUILT).count() == 0
    assert BuildJob.objects.exclude(attempts=1).count() == 0
    assert BuildEvent.objects.filter(to_status="leased").count() == JOBS
    # The work was shared, not done by one lucky thread.
    assert sum(1 for ids in claimed.values() if ids) >= 2
