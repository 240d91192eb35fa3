"""The lease half of a work queue, shared by the build queue and the plan queue.

A worker holds a row (a build job, an input being planned) until ``lease_expires_at``;
heartbeats renew it; a row whose lease ran out, or whose holder is a process of this host
that is gone, is taken back. Each queue says which rows are held and what taking one back
means (requeue, or fail when its attempts are spent); the mechanics are here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.db import models, transaction
from django.db.models import Q

from refinery.lib.db import supports_skip_locked
from refinery.lib.worker_liveness import dead_local_workers

M = TypeVar("M", bound=models.Model)
# How many rows one pass takes back; the next pass (a minute later) takes the rest.
_TAKE_BACK_BATCH = 1000


@dataclass(frozen=True)
class Lease(Generic[M]):
    model: type[M]
    held: Q  # the rows under a lease
    default_seconds: Callable[[], int]  # the lease's length, read when used (a setting)

    def expires(self, now: datetime, seconds: int | None = None) -> datetime:
        return now + timedelta(seconds=seconds or self.default_seconds())

    # Taking rows: in a claim statement (SQL) or an ORM update, the same three fields.
    SQL_ASSIGNMENTS = (
        "lease_owner = %(worker)s, lease_expires_at = %(expires)s, updated_at = %(now)s"
    )

    def sql_params(self, worker: str, now: datetime, seconds: int | None = None) -> dict[str, Any]:
        """The parameters ``SQL_ASSIGNMENTS`` names."""
        return {"worker": worker, "expires": self.expires(now, seconds), "now": now}

    def taken_by(self, worker: str, now: datetime, seconds: int | None = None) -> dict[str, Any]:
        """The same, as an ORM update's fields."""
        return {
            "lease_owner": worker,
            "lease_expires_at": self.expires(now, seconds),
            "updated_at": now,
        }

    @staticmethod
    def pop(skip_locked: Callable[[], list[M]], serialized: Callable[[], list[M]]) -> list[M]:
        """Take rows for a worker: on Postgres ``skip_locked()``, one statement whose
        ``FOR UPDATE SKIP LOCKED`` lets concurrent claimers pass over each other's rows; on
        SQLite, which has no row locks but serializes writers (``BEGIN IMMEDIATE``),
        ``serialized()`` in one transaction, select then guarded update, just as safe."""
        if supports_skip_locked():
            return skip_locked()
        with transaction.atomic():
            return serialized()

    def renew(
        self, pk: int, owner: str, now: datetime, seconds: int | None = None, **also: Any
    ) -> bool:
        """A heartbeat: extend the lease if ``owner`` still holds the row (one guarded
        update); False when it does not."""
        updated = self.model._default_manager.filter(self.held, pk=pk, lease_owner=owner).update(
            lease_expires_at=self.expires(now, seconds), updated_at=now, **also
        )
        return updated == 1

    def expired(self, now: datetime) -> Q:
        return Q(lease_expires_at__lt=now)

    def dead_owners(self) -> set[str]:
        """Holders that are processes of this host and exist no more."""
        owners = self.model._default_manager.filter(self.held).order_by()
        return dead_local_workers(set(owners.values_list("lease_owner", flat=True).distinct()))

    def take_back(self, condition: Q, take: Callable[[M], None]) -> None:
        """``take(row)`` for each held row meeting ``condition``, each in its own transaction
        with the row locked and checked again (a heartbeat or a report may have come after
        all, or another reaper took it: then it is skipped)."""
        manager = self.model._default_manager
        candidates = manager.filter(self.held, condition).order_by("pk")
        for pk in candidates.values_list("pk", flat=True)[:_TAKE_BACK_BATCH]:
            with transaction.atomic():
                row = (
                    manager.select_for_update(skip_locked=supports_skip_locked())
                    .filter(self.held, condition, pk=pk)
                    .first()
                )
                if row is not None:
                    take(row)
