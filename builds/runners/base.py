"""The runner interface: run one build and report what happened, streaming its output."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.db import connection

from builds.failure_reasons import FailureReason
from builds.log_sink import LogSink

# Exit codes of the build script (builds/build_script/refinery_build.py), as failure reasons.
EXIT_SOURCE_MISMATCH = 65
EXIT_SYSTEM_RECIPE = 66
EXIT_DOWNLOAD = 67
_MAX_READ_CHARS = 64 * 1024
# stream_process's third way to stop a build, besides a timeout and a cancel: the runner's
# own limit (the output folder's size); the runner says which limit as a build error.
OVER_LIMIT = "over_limit"


@dataclass(frozen=True)
class BuildSpec:
    """Everything a runner needs for one job; passed to the build as environment variables."""

    job_id: int
    name: str
    version: str
    python_tag: str
    platform_tag: str
    sdist_url: str
    sdist_sha256: str
    recipes: list[dict[str, Any]] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)
    source_date_epoch: int = 315532800  # 1980-01-01: the earliest date a zip can hold
    # The build environment the plan resolved: wheels from our store (a directory the runner
    # makes visible to the build as WHEELHOUSE) and "name==version" pins for every package.
    wheelhouse: Path | None = None
    constraints: tuple[str, ...] = ()
    # Set for a repair run instead of a build: auditwheel in the target environment, where
    # the libraries the wheel links against exist (OUTPUT_DIR/<repair_wheel> -> OUTPUT_DIR).
    repair_wheel: str = ""
    repair_platform: str = ""
    repair_tools: tuple[str, ...] = ()

    def environment(self) -> dict[str, str]:
        return {
            "JOB_NAME": self.name,
            "JOB_VERSION": self.version,
            "PYTHON_TAG": self.python_tag,
            "PLATFORM_TAG": self.platform_tag,
            "RECIPES": json.dumps(self.recipes),
            "SDIST_URL": self.sdist_url,
            "SDIST_SHA256": self.sdist_sha256,
            "INDEX_URLS": " ".join(self.index_urls),
            "SOURCE_DATE_EPOCH": str(self.source_date_epoch),
            "BUILD_CONSTRAINTS": "\n".join(self.constraints),
            "REPAIR_WHEEL": self.repair_wheel,
            "REPAIR_PLAT": self.repair_platform,
            "REPAIR_TOOLS": " ".join(self.repair_tools),
        }


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    wheels: list[Path]
    elapsed: float
    reason: str  # "" on success; timeout | cancelled | build_error | system_recipe | infrastructure
    detail: str = ""
    # Where it ran, for provenance (e.g. the builder image and its id).
    environment: dict[str, str | None] = field(default_factory=dict)
    # False when the runner stopped the build for a limit: no recipe changes what it does.
    repairable: bool = True

    @property
    def ok(self) -> bool:
        return self.reason == "" and bool(self.wheels)


class Runner(Protocol):
    name: str

    def run(
        self, spec: BuildSpec, output_dir: Path, sink: LogSink, cancelled: Callable[[], bool]
    ) -> RunResult: ...


def reason_for_exit(code: int) -> str:
    return {
        EXIT_SYSTEM_RECIPE: FailureReason.SYSTEM_RECIPE,
        EXIT_DOWNLOAD: FailureReason.INFRASTRUCTURE,
    }.get(code, FailureReason.BUILD_ERROR)


def stream_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    sink: LogSink,
    timeout: float,
    cancelled: Callable[[], bool],
    cwd: Path | None = None,
    kill: Callable[[subprocess.Popen[str]], None] | None = None,
    over_limit: Callable[[], bool] | None = None,
) -> tuple[int | None, str]:
    """Run ``argv`` (never through a shell), copy its output line by line to ``sink``, and
    stop it on timeout, cancellation or ``over_limit()`` (checked as often as the others).
    Returns ``(exit_code, "" | "timeout" | "cancelled" | "over_limit")``.

    Without ``cwd`` it runs in a directory of its own, removed after it: nothing it leaves
    there lands in the worker's (podman's conmon writes an empty ``oom`` file into its
    working directory when a container is killed for its memory)."""
    with contextlib.ExitStack() as scratch:
        if cwd is None:
            cwd = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="refinery-run-")))
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
        assert process.stdout is not None

        output = process.stdout

        def pump() -> None:
            # Bounded reads: a build can print a 50 MB line; the sink splits what it gets.
            try:
                for line in iter(lambda: output.readline(_MAX_READ_CHARS), ""):
                    sink.write(line)
            finally:
                connection.close()  # a database sink stored chunks on this thread's connection

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        deadline = time.monotonic() + timeout
        stopped = ""
        while process.poll() is None:
            if time.monotonic() > deadline:
                stopped = FailureReason.TIMEOUT
            elif cancelled():
                stopped = FailureReason.CANCELLED
            elif over_limit is not None and over_limit():
                stopped = OVER_LIMIT
            if stopped:
                (kill or _kill_group)(process)
                break
            # Returns as the process ends (a sleep here made every build wait 0.1 s on average).
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.2)
        process.wait()
        reader.join(timeout=5)
        return (None if stopped else process.returncode), stopped


def _kill_group(process: subprocess.Popen[str]) -> None:
    """The build may have started compilers of its own: end the whole process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
