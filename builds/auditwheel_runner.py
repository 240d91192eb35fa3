"""auditwheel, forked from a helper that has it imported already.

Each repair ran ``python -m auditwheel``: 0.13 s, of which 0.10 s was the interpreter
starting and importing auditwheel, on every build (half of what the refinery added to a
small build, bench/build_overhead.py). A helper process (``builds.auditwheel_zygote``)
imports it once and forks a child per repair. The repair still runs in a process of its
own: a hostile wheel's ELF files are parsed there, not in the worker. Should the helper
die, the next repair starts another.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from django.conf import settings

_lock = threading.Lock()
_helper: subprocess.Popen[str] | None = None


def _started() -> subprocess.Popen[str]:
    global _helper
    if _helper is None or _helper.poll() is not None:
        _helper = subprocess.Popen(
            [sys.executable, "-m", "builds.auditwheel_zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=settings.BASE_DIR,
        )
    return _helper


def _ask(request: Mapping[str, object]) -> int:
    helper = _started()
    assert helper.stdin is not None
    assert helper.stdout is not None
    helper.stdin.write(json.dumps(request) + "\n")
    helper.stdin.flush()
    answer = helper.stdout.readline()
    if not answer:
        raise BrokenPipeError("the auditwheel helper exited")
    return int(json.loads(answer)["code"])


def run_auditwheel(argv: list[str], path: str) -> tuple[int, str]:
    """``auditwheel ARGV`` with ``PATH`` set to ``path``: (exit code, all it printed)."""
    with tempfile.TemporaryDirectory(prefix="auditwheel-") as directory:
        output = Path(directory) / "output"
        request = {"argv": argv, "output": str(output), "path": path}
        with _lock:
            try:
                code = _ask(request)
            except (BrokenPipeError, OSError, ValueError):
                code = _ask(request)  # a helper that died (killed, OOM): once more, anew
        said = output.read_text(errors="replace") if output.exists() else ""
        if code < 0:
            said += f"\nauditwheel was killed by signal {-code}"
        return code, said
