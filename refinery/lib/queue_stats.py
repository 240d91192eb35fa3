"""The statistics both queues report, in one shape so pages and commands show them alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class QueueStats:
    name: str
    depth_by_status: dict[str, int] = field(default_factory=dict)
    waiting: int = 0
    oldest_waiting_age: timedelta | None = None
    active_leases: int = 0
    succeeded_24h: int = 0
    failed_24h: int = 0
    average_duration_24h: timedelta | None = None

    @classmethod
    def from_aggregates(
        cls,
        name: str,
        *,
        statuses: Iterable[str],
        depth: Mapping[str, int],
        aggregates: Mapping[str, Any],
        now: datetime,
    ) -> QueueStats:
        """Build from a status count and one ``aggregate()`` with keys ``waiting``, ``oldest``,
        ``leases``, ``succeeded``, ``failed`` and ``average``."""
        oldest = aggregates["oldest"]
        return cls(
            name=name,
            depth_by_status={status: depth.get(status, 0) for status in statuses},
            waiting=aggregates["waiting"],
            oldest_waiting_age=now - oldest if oldest else None,
            active_leases=aggregates["leases"],
            succeeded_24h=aggregates["succeeded"],
            failed_24h=aggregates["failed"],
            average_duration_24h=aggregates["average"],
        )

    @property
    def success_rate_24h(self) -> float | None:
        """Share of work finished in the last 24 h that succeeded; None when nothing finished."""
        finished = self.succeeded_24h + self.failed_24h
        return None if finished == 0 else self.succeeded_24h / finished
