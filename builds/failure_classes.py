"""Why a build failed, read off its log: a missing build dependency (a header, a library, a
tool, a build requirement pip could not find) is told apart from other build errors, so an
operator (and the hint catalog) sees at a glance that the fix is a recipe, not the code."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

from builds.log_sink import LogSink

# Each pattern names a dependency the build environment lacks.
MISSING_DEPENDENCY = [
    re.compile(p)
    for p in (
        r"fatal error: [^:]+\.h(pp)?: No such file or directory",
        r"cannot find -l\S+",
        r"No matching distribution found for \S+",
        r"Package '?[\w.+-]+'?,? (was )?not found",  # pkg-config
        r"error: command '[^']+' failed: No such file or directory",
        r"[Cc]ould not find (a )?(Rust compiler|cargo|cmake|pkg-config)",
        r"can't find Rust compiler",
        r"ModuleNotFoundError: No module named '[\w.]+'",
    )
]


def missing_dependency(lines: Iterable[str]) -> str | None:
    """The log line naming a missing build dependency (the last one), if there is one."""
    found = None
    for line in lines:
        if any(pattern.search(line) for pattern in MISSING_DEPENDENCY):
            found = line.strip()
    return found


class TailSink:
    """Passes lines on to ``sink`` and keeps the last ``keep`` for classification."""

    def __init__(self, sink: LogSink, keep: int = 500) -> None:
        self.sink = sink
        self.lines: deque[str] = deque(maxlen=keep)

    def write(self, line: str) -> None:
        self.lines.append(line)
        self.sink.write(line)

    def close(self) -> None:
        self.sink.close()
