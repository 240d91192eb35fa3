"""Why a build failed, read off its log (``hints.problems``): a missing build dependency (a
header, a library, a tool, a build requirement pip could not find) is told apart from other
build errors, so an operator sees at a glance that the fix is a recipe, not the code."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from builds.log_sink import LogSink
from hints.problems import KINDS, find_problems


def missing_dependency(lines: Iterable[str]) -> str | None:
    """The log line naming a missing build dependency (the first one), if there is one."""
    problems = [p for p in find_problems(lines) if p.kind in KINDS]
    return problems[0].evidence if problems else None


# The build script's last word before it gives up (``stop`` in refinery_build.py).
_STATED = "refinery-build: error: "


def stated_cause(lines: Iterable[str]) -> str | None:
    """Why the build script stopped, in its own words (a download that failed, a package
    manager that refused), when it said so."""
    cause = None
    for line in lines:
        if line.startswith(_STATED):
            cause = line[len(_STATED) :].strip()
    return cause


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
