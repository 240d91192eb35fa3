"""The local runner (embedded default): a fresh venv per build, on this host, as this user."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from builds.failure_reasons import FailureReason
from builds.log_sink import LogSink
from builds.orphans import marked, scratch_prefix
from builds.runners.base import BuildSpec, RunResult, reason_for_exit, stream_process

# In a folder of its own: run as a script, its folder comes first on sys.path, so no
# module may sit beside it (a select.py there once shadowed the standard library).
BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "build_script" / "refinery_build.py"
# Variables a build may see from the host; everything else (the host's pip configuration
# in particular, which may add other indexes) stays out.
_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR", "TMPDIR")


_VENV_TIMEOUT_SEC = 300


class LocalRunner:
    name = "local"

    def __init__(
        self, *, timeout: float, pip_cache: Path | None = None, python: str = sys.executable
    ):
        self.timeout = timeout
        self.pip_cache = pip_cache
        self.python = python

    @classmethod
    def from_settings(cls) -> LocalRunner:
        return cls(
            timeout=settings.RUNNER_TIMEOUT_SEC, pip_cache=Path(settings.VAR_DIR) / "cache" / "pip"
        )

    def run(
        self, spec: BuildSpec, output_dir: Path, sink: LogSink, cancelled: Callable[[], bool]
    ) -> RunResult:
        started = time.monotonic()
        output_dir.mkdir(parents=True, exist_ok=True)
        prefix = scratch_prefix(spec.job_id, spec.name)
        with tempfile.TemporaryDirectory(prefix=prefix) as scratch_name:
            scratch = Path(scratch_name)
            venv = scratch / "venv"
            sink.write(f"local runner: creating a fresh venv in {venv}")
            # Watched like the build: a cancel during the venv's seconds stops it too. (The
            # build's timeout is the build's: the venv has a bound of its own.)
            created, stopped = stream_process(
                [self.python, "-m", "venv", str(venv)],
                env=marked(dict(os.environ), spec.job_id),
                sink=sink,
                timeout=_VENV_TIMEOUT_SEC,
                cancelled=cancelled,
            )
            if stopped or created != 0:
                elapsed = time.monotonic() - started
                if stopped:
                    sink.write(
                        f"local runner: build {stopped} after {elapsed:.1f} s, while creating "
                        "the venv; killed"
                    )
                    return RunResult(None, [], elapsed, stopped)
                return RunResult(None, [], elapsed, FailureReason.INFRASTRUCTURE, "venv failed")
            env = self._environment(spec, venv, scratch, output_dir)
            code, stopped = stream_process(
                [str(venv / "bin" / "python"), str(BUILD_SCRIPT)],
                env=marked(env, spec.job_id),
                sink=sink,
                timeout=self.timeout,
                cancelled=cancelled,
                cwd=scratch,
            )
        elapsed = time.monotonic() - started
        wheels = sorted(output_dir.glob("*.whl"))
        if stopped:
            sink.write(f"local runner: build {stopped} after {elapsed:.1f} s; killed")
            return RunResult(None, [], elapsed, stopped)
        if code != 0:
            return RunResult(code, [], elapsed, reason_for_exit(code or 1), f"exit code {code}")
        if not wheels:
            return RunResult(
                code, [], elapsed, FailureReason.BUILD_ERROR, "the build produced no wheel"
            )
        return RunResult(code, wheels, elapsed, "")

    def _environment(
        self, spec: BuildSpec, venv: Path, scratch: Path, output_dir: Path
    ) -> dict[str, str]:
        """The build's environment: a few of the worker's (never its secrets), the job's,
        and the venv and scratch folders."""
        env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        env.update(spec.environment())
        env.update(
            {
                "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
                "HOME": str(scratch),
                "OUTPUT_DIR": str(output_dir),
                "WORK_DIR": str(scratch / "work"),
                "PIP_CONFIG_FILE": os.devnull,
                "PIP_NO_INPUT": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        # pip in a fresh venv trusts certifi's bundle, not the system store: hand it the
        # bundle that holds this machine's CAs (a TLS-intercepting proxy's, here).
        bundle = env.get("SSL_CERT_FILE") or settings.RUNNER_CA_BUNDLE
        if bundle:
            env["SSL_CERT_FILE"] = env["PIP_CERT"] = bundle
        if self.pip_cache is not None:
            env["PIP_CACHE_DIR"] = str(self.pip_cache)
        if spec.wheelhouse is not None:
            env["WHEELHOUSE"] = str(spec.wheelhouse)
        return env
