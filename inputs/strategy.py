"""How a plan picks versions, chosen per upload (or by the UPGRADE_STRATEGY setting): the one
definition the settings, the upload paths and the plans share. Plain Python, so that the
settings module can read it before Django is set up."""

from __future__ import annotations

from enum import StrEnum


class Strategy(StrEnum):
    PINNED = "pinned"  # the input's previous plan's versions, where they still satisfy it
    EAGER = "eager"  # the newest versions that satisfy it


STRATEGIES: tuple[str, ...] = tuple(Strategy)
# For model fields, forms and filters: (value, label) pairs.
STRATEGY_CHOICES = [(strategy.value, strategy.value.capitalize()) for strategy in Strategy]
