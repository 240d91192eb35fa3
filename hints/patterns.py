"""Hint patterns: operator-written regular expressions run against untrusted build logs.

A pattern like ``(x+x+)+y`` backtracks exponentially; Python's ``re`` would hold the GIL
for as long as it takes. Patterns are compiled with the ``regex`` module instead (Python's
syntax, releases the GIL while matching) and every search has a time limit: a pattern
that runs out of time counts as no match for that line, and the caller is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

# A log line is at most LOG_MAX_LINE_CHARS long; a sane pattern needs microseconds on it.
SEARCH_TIMEOUT_SECONDS = 0.05


class PatternError(ValueError):
    """The pattern does not compile; the message says why."""


def compile_pattern(text: str) -> regex.Pattern[str]:
    try:
        return regex.compile(text)
    except (regex.error, ValueError, OverflowError) as exc:
        raise PatternError(f"pattern is not a valid regular expression: {exc}") from None


@dataclass
class LineSearch:
    """Searches lines with one pattern, each within the time limit; ``timed_out`` counts
    the lines it gave up on."""

    pattern: regex.Pattern[str]
    timeout: float = SEARCH_TIMEOUT_SECONDS
    timed_out: int = field(default=0)

    def first(self, lines: list[str]) -> str | None:
        """The first line the pattern matches, or None."""
        for line in lines:
            try:
                if self.pattern.search(line, timeout=self.timeout) is not None:
                    return line
            except TimeoutError:
                self.timed_out += 1
        return None
