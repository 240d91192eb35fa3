"""The one error a rejected requirements file raises."""

from __future__ import annotations


class RequirementsError(ValueError):
    """A rejected file; ``line`` is 1-based, or None for whole-file problems."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line is not None else reason)
