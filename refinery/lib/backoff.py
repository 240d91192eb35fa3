"""Exponential backoff with jitter for retried work."""

from __future__ import annotations

import random
from datetime import timedelta


def retry_delay(
    attempt: int, *, base_seconds: float, max_seconds: float, rng: random.Random | None = None
) -> timedelta:
    """Delay before retrying after failed attempt number ``attempt`` (1-based).

    "Equal jitter": half the exponential step is fixed and half random, so retries of
    many jobs that failed together spread out, yet attempt n+1 never waits less
    than attempt n did (its window starts where the previous one ended).
    """
    if attempt < 1:
        raise ValueError(f"attempt must be at least 1, got {attempt}")
    step = min(max_seconds, base_seconds * 2 ** (attempt - 1))
    jitter = (rng or random).uniform(0, step / 2)
    return timedelta(seconds=step / 2 + jitter)
