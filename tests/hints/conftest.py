"""Real log excerpts for repair tests (tests/hints/logs/); the Contents index they look
packages up in is the ``small_index`` fixture (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
LOGS = HERE / "logs"


def log_lines(name: str) -> list[str]:
    """An excerpt of a real build log (tests/hints/logs/<name>.log)."""
    return (LOGS / f"{name}.log").read_text().splitlines()
