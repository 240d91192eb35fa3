"""The options the commands that take a requirements file share (upload, plan, refine):
declared once, so that each says the same thing in --help and parses the same way."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from inputs.strategy import STRATEGIES


def add_plan_options(parser: CommandParser, *, overrides: bool = True) -> None:
    """--strategy, --no-binary, --only-binary and (unless ``overrides`` is False) --overrides."""
    parser.add_argument(
        "--strategy", choices=STRATEGIES, default=None, help="default: UPGRADE_STRATEGY"
    )
    parser.add_argument(
        "--no-binary", default=None, help="as pip's: build these from their sdists (names, :all:)"
    )
    parser.add_argument(
        "--only-binary", default=None, help="as pip's: wheels only for these (names, :all:)"
    )
    if overrides:
        parser.add_argument(
            "--overrides", help='JSON: {"force": {"name": "1.0"}, "exclude": ["name"]}'
        )


def overrides_option(text: str | None) -> Any:
    """--overrides as JSON (None when not given); a one-line error when it is not JSON."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CommandError(f"--overrides is not valid JSON: {exc}") from None
