"""The podman runner: each build in a fresh, sandboxed container of the target's builder image
(``builds.runners.sandbox`` says what the sandbox allows).

Argument lists only: the package name and version travel as ``-e JOB_NAME=…`` items,
never through a shell. The container is named per job so a timeout or an operator's
cancel can ``podman kill`` it; ``--rm`` removes it either way. Nothing of the host is
writable inside but the job's output folder, whose size is watched while it runs.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from django.conf import settings

from builds.failure_reasons import FailureReason
from builds.images import (
    DEBIAN_TO_MACHINE,
    MACHINE_TO_DEBIAN,
    image_exists,
    image_name,
    podman_env,
)
from builds.log_sink import LogSink
from builds.models import BuilderImage
from builds.orphans import container_prefix, marked
from builds.runners.base import (
    OVER_LIMIT,
    BuildSpec,
    RunResult,
    reason_for_exit,
    stream_process,
)
from builds.runners.local import BUILD_SCRIPT
from builds.runners.sandbox import SCRATCH, SandboxLimits
from builds.runners.system_image import SystemImages, image_for, system_packages
from inputs.target_env import platform_arch

# Python's tarfile made to extract as a non-root user would (see the module), loaded by a
# .pth from the builder images' Debian dist-packages.
TARFILE_OWNER = BUILD_SCRIPT.parent / "refinery_tarfile_owner.py"
TARFILE_OWNER_PTH = BUILD_SCRIPT.parent / "refinery-tarfile-owner.pth"
_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
# podman's own exit codes: it could not run the container, not the build failing.
_PODMAN_FAILURES = {
    125: "podman failed",
    126: "command cannot be invoked",
    127: "command not found",
}


class PodmanRunner:
    name = "podman"

    def __init__(
        self,
        *,
        timeout: float,
        podman_bin: str = "podman",
        containers_conf: str | None = None,
        image: str | None = None,
        ca_bundle: str | None = None,
        limits: SandboxLimits | None = None,
        run_cmd: list[str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.podman_bin = podman_bin
        self.containers_conf = containers_conf
        self.fixed_image = image
        self.ca_bundle = ca_bundle
        self.limits = limits or SandboxLimits()
        self.run_cmd = run_cmd
        # Remote workers have no database: they find images by name in podman instead of
        # in the BuilderImage records ``build_image`` keeps.
        self.images_recorded = True

    @classmethod
    def from_settings(cls) -> PodmanRunner:
        return cls(
            timeout=settings.RUNNER_TIMEOUT_SEC,
            podman_bin=settings.PODMAN_BIN,
            containers_conf=settings.PODMAN_CONTAINERS_CONF,
            image=settings.CONTAINER_IMAGE,
            ca_bundle=settings.RUNNER_CA_BUNDLE,
            limits=SandboxLimits(
                memory=settings.RUNNER_MEMORY,
                cpus=settings.RUNNER_CPUS,
                pids=settings.RUNNER_PIDS_LIMIT,
                disk=settings.RUNNER_DISK,
                network=settings.RUNNER_NETWORK,
                read_only_root=settings.RUNNER_READ_ONLY_ROOT,
            ),
            run_cmd=shlex.split(settings.WORKER_RUN_CMD) if settings.WORKER_RUN_CMD else None,
        )

    @staticmethod
    def arches() -> list[str]:
        """Machine architectures this runner has builder images for."""
        recorded = BuilderImage.objects.values_list("arch", flat=True)
        return sorted({DEBIAN_TO_MACHINE.get(arch, arch) for arch in recorded})

    def arches_in_podman(self) -> list[str]:
        """Machine architectures whose builder image (by its standard name) podman has."""
        return sorted(
            machine
            for debian, machine in DEBIAN_TO_MACHINE.items()
            if image_exists(image_name(settings.CONTAINER_PRESET, debian))
        )

    def _image_for(self, spec: BuildSpec) -> tuple[str, str, str | None]:
        """(image, Debian arch, image id) for the spec's target."""
        machine = platform_arch(spec.platform_tag)
        arch = MACHINE_TO_DEBIAN.get(machine, machine)
        if self.fixed_image:
            return self.fixed_image, arch, None
        if not self.images_recorded:
            return image_name(settings.CONTAINER_PRESET, arch), arch, None
        record = BuilderImage.objects.filter(preset=settings.CONTAINER_PRESET, arch=arch).first()
        if record is None:
            return image_name(settings.CONTAINER_PRESET, arch), arch, None
        return record.image, arch, record.image_id

    def _inputs(self, argv: list[str], environment: dict[str, str]) -> None:
        """What the build reads from the host, read-only: the build script, the tarfile
        mend its Pythons load, and the CA bundle."""
        argv += ["-v", f"{BUILD_SCRIPT}:/usr/local/bin/refinery-build:ro"]
        for path in (TARFILE_OWNER, TARFILE_OWNER_PTH):
            argv += ["-v", f"{path}:{_DIST_PACKAGES}/{path.name}:ro"]
        # Root without CAP_CHOWN: GNU tar must not try to keep an archive's owners either.
        environment["TAR_OPTIONS"] = "--no-same-owner"
        if self.ca_bundle:
            argv += ["-v", f"{self.ca_bundle}:/etc/ssl/certs/ca-certificates.crt:ro"]
            environment["SSL_CERT_FILE"] = environment["PIP_CERT"] = (
                "/etc/ssl/certs/ca-certificates.crt"
            )

    @staticmethod
    def _with_environment(argv: list[str], environment: dict[str, str]) -> list[str]:
        for key, value in environment.items():
            argv += ["-e", f"{key}={value}"]
        return argv

    def command(
        self,
        spec: BuildSpec,
        output_dir: Path,
        container: str,
        resolved: tuple[str, str, str | None] | None = None,
        *,
        system_image: str | None = None,
    ) -> list[str]:
        """The build step's ``podman run``; on ``system_image`` when a step installed the
        recipes' system packages there."""
        image, arch, _ = resolved or self._image_for(spec)
        argv = [
            self.podman_bin,
            "run",
            "--rm",
            "--name",
            container,
            "--arch",
            arch,
            *self.limits.build_args(),
            "-v",
            f"{output_dir}:/output",
        ]
        environment = {
            **spec.environment(),
            "OUTPUT_DIR": "/output",
            "WORK_DIR": f"{SCRATCH}/refinery-work",
            "HOME": f"{SCRATCH}/home",
            "TMPDIR": SCRATCH,
            # The build's own: a shared cache would let one build plant files another installs.
            "PIP_CACHE_DIR": f"{SCRATCH}/pip-cache",
            "PIP_CONFIG_FILE": "/dev/null",
            "PIP_NO_INPUT": "1",
            "PYTHONUNBUFFERED": "1",
            "REFINERY_BUILD_VENV": "1",
            "REFINERY_CONTAINER": "1",
        }
        if system_image is not None:
            environment["SYSTEM_PACKAGES_READY"] = "1"
        if spec.wheelhouse is not None:
            argv += ["-v", f"{spec.wheelhouse}:/wheelhouse:ro"]
            environment["WHEELHOUSE"] = "/wheelhouse"
        self._inputs(argv, environment)
        self._with_environment(argv, environment)
        run = self.run_cmd or ["python3", "/usr/local/bin/refinery-build"]
        return [*argv, system_image or image, *run]

    def system_packages_command(
        self, spec: BuildSpec, container: str, resolved: tuple[str, str, str | None]
    ) -> list[str]:
        """The step before the build: the package manager, with its capabilities only."""
        image, arch, _ = resolved
        argv = [
            self.podman_bin,
            "run",
            "--name",
            container,
            "--arch",
            arch,
            *self.limits.package_step_args(),
        ]
        # The image keeps this container's environment: nothing here a build must not have.
        environment = {"REFINERY_CONTAINER": "1", "PYTHONUNBUFFERED": "1"}
        self._inputs(argv, environment)
        self._with_environment(argv, environment)
        packages = system_packages(spec.recipes)
        return [
            *argv,
            image,
            "python3",
            "/usr/local/bin/refinery-build",
            "--system-packages",
            *packages,
        ]

    def run(
        self, spec: BuildSpec, output_dir: Path, sink: LogSink, cancelled: Callable[[], bool]
    ) -> RunResult:
        started = time.monotonic()
        output_dir.mkdir(parents=True, exist_ok=True)
        prefix = container_prefix(spec.job_id)
        container = f"{prefix}{uuid.uuid4().hex[:8]}"
        resolved = self._image_for(spec)
        image, _, image_id = resolved
        where: dict[str, str | None] = {"image": image, "image_id": image_id}
        env = marked(podman_env(self.containers_conf), spec.job_id)

        system_image = None
        if system_packages(spec.recipes):
            step = self._system_image(spec, resolved, prefix, sink, cancelled, env, started)
            if isinstance(step, RunResult):
                return replace(step, elapsed=time.monotonic() - started, environment=where)
            system_image = where["system_image"] = step

        argv = self.command(spec, output_dir, container, resolved, system_image=system_image)
        sink.write(f"podman runner: {system_image or image} as {container}")

        def kill(process: subprocess.Popen[str]) -> None:
            subprocess.run(
                [self.podman_bin, "kill", container],
                env=podman_env(self.containers_conf),
                capture_output=True,
            )
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            if process.poll() is None:
                process.kill()

        code, stopped = stream_process(
            argv,
            env=env,
            sink=sink,
            timeout=self.timeout,
            cancelled=cancelled,
            kill=kill,
            over_limit=lambda: folder_size(output_dir) > self.limits.disk_bytes,
        )
        return self._outcome(code, stopped, output_dir, time.monotonic() - started, where, sink)

    def _system_image(
        self,
        spec: BuildSpec,
        resolved: tuple[str, str, str | None],
        prefix: str,
        sink: LogSink,
        cancelled: Callable[[], bool],
        env: dict[str, str],
        started: float,
    ) -> str | RunResult:
        """The image with the recipe's system packages installed (made in a step of its own,
        or reused), or the failed step's result."""
        image, _, image_id = resolved
        step = SystemImages(self.podman_bin, podman_env(self.containers_conf)).ensure(
            image_for(image, image_id, system_packages(spec.recipes)),
            lambda name: self.system_packages_command(spec, name, resolved),
            container_prefix=prefix,
            sink=sink,
            timeout=self.timeout,
            cancelled=cancelled,
            stream_env=env,
        )
        if step.stopped:
            elapsed = time.monotonic() - started
            sink.write(f"podman runner: system packages {step.stopped} after {elapsed:.1f} s")
            return RunResult(None, [], 0.0, step.stopped)
        if step.ok:
            return step.image
        code = step.exit_code
        if code in _PODMAN_FAILURES:
            detail = f"system packages: {_PODMAN_FAILURES[code]}"
            return RunResult(code, [], 0.0, FailureReason.INFRASTRUCTURE, detail)
        return RunResult(
            code, [], 0.0, FailureReason.SYSTEM_RECIPE, f"system packages: exit code {code}"
        )

    def _outcome(
        self,
        code: int | None,
        stopped: str,
        output_dir: Path,
        elapsed: float,
        where: dict[str, str | None],
        sink: LogSink,
    ) -> RunResult:
        """What the build step's exit means: wheels, or the reason there are none."""
        wheels = sorted(output_dir.glob("*.whl"))
        if stopped == OVER_LIMIT:
            detail = f"the build wrote more than {self.limits.disk} into its output folder"
            sink.write(f"podman runner: {detail}; container killed")
            return RunResult(
                None, [], elapsed, FailureReason.BUILD_ERROR, detail, where, repairable=False
            )
        if stopped:
            sink.write(f"podman runner: build {stopped} after {elapsed:.1f} s; container killed")
            return RunResult(None, [], elapsed, stopped, environment=where)
        if code in _PODMAN_FAILURES:
            return RunResult(
                code, [], elapsed, FailureReason.INFRASTRUCTURE, _PODMAN_FAILURES[code], where
            )
        if code != 0:
            detail = f"exit code {code}"
            return RunResult(code, [], elapsed, reason_for_exit(code or 1), detail, where)
        if not wheels:
            return RunResult(
                code, [], elapsed, FailureReason.BUILD_ERROR, "the build produced no wheel", where
            )
        return RunResult(code, wheels, elapsed, "", environment=where)


def folder_size(folder: Path) -> int:
    """Bytes in the files under ``folder`` (what a build wrote there so far)."""
    total = 0
    pending = [folder]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:  # gone meanwhile
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total
