"""The statistics both queues report, in one shape so pages and commands show them alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


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

    @property
    def success_rate_24h(self) -> float | None:
        """Share of work finished in the last 24 h that succeeded; None when nothing finished."""
        finished = self.succeeded_24h + self.failed_24h
        return None if finished == 0 else self.succeeded_24h / finished
