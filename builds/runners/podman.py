"""The podman runner: each build in a fresh container of the target's builder image.

Argument lists only: the package name and version travel as ``-e JOB_NAME=…`` items,
never through a shell. The container is named per job so a timeout or an operator's
cancel can ``podman kill`` it; ``--rm`` removes it either way.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

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
from builds.runners.base import BuildSpec, RunResult, reason_for_exit, stream_process
from builds.runners.local import BUILD_SCRIPT
from refinery.lib.target_env import platform_arch

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
        pip_cache: Path,
        podman_bin: str = "podman",
        containers_conf: str | None = None,
        image: str | None = None,
        ca_bundle: str | None = None,
        memory: str = "4g",
        cpus: str = "2",
        pids_limit: int = 4096,
        network: str = "slirp4netns:allow_host_loopback=false",
        run_cmd: list[str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.pip_cache = pip_cache
        self.podman_bin = podman_bin
        self.containers_conf = containers_conf
        self.fixed_image = image
        self.ca_bundle = ca_bundle
        self.memory, self.cpus, self.pids_limit, self.network = memory, cpus, pids_limit, network
        self.run_cmd = run_cmd
        # Remote workers have no database: they find images by name in podman instead of
        # in the BuilderImage records ``build_image`` keeps.
        self.images_recorded = True

    @classmethod
    def from_settings(cls) -> PodmanRunner:
        return cls(
            timeout=settings.RUNNER_TIMEOUT_SEC,
            pip_cache=Path(settings.VAR_DIR) / "cache" / "pip",
            podman_bin=settings.PODMAN_BIN,
            containers_conf=settings.PODMAN_CONTAINERS_CONF,
            image=settings.CONTAINER_IMAGE,
            ca_bundle=settings.RUNNER_CA_BUNDLE,
            memory=settings.RUNNER_MEMORY,
            cpus=settings.RUNNER_CPUS,
            pids_limit=settings.RUNNER_PIDS_LIMIT,
            network=settings.RUNNER_NETWORK,
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

    def command(
        self,
        spec: BuildSpec,
        output_dir: Path,
        container: str,
        resolved: tuple[str, str, str | None] | None = None,
    ) -> list[str]:
        image, arch, _ = resolved or self._image_for(spec)
        self.pip_cache.mkdir(parents=True, exist_ok=True)
        argv = [
            self.podman_bin,
            "run",
            "--rm",
            "--name",
            container,
            "--arch",
            arch,
            "--memory",
            self.memory,
            "--cpus",
            self.cpus,
            "--pids-limit",
            str(self.pids_limit),
            "--network",
            self.network,
            "-v",
            f"{self.pip_cache}:/cache",
            "-v",
            f"{output_dir}:/output",
            "-v",
            f"{BUILD_SCRIPT}:/usr/local/bin/refinery-build:ro",
        ]
        environment = {
            **spec.environment(),
            "OUTPUT_DIR": "/output",
            "WORK_DIR": "/tmp/refinery-work",
            "PIP_CACHE_DIR": "/cache/pip",
            "PIP_CONFIG_FILE": "/dev/null",
            "PIP_NO_INPUT": "1",
            "PYTHONUNBUFFERED": "1",
            "REFINERY_BUILD_VENV": "1",
        }
        if spec.wheelhouse is not None:
            argv += ["-v", f"{spec.wheelhouse}:/wheelhouse:ro"]
            environment["WHEELHOUSE"] = "/wheelhouse"
        if self.ca_bundle:
            argv += ["-v", f"{self.ca_bundle}:/etc/ssl/certs/ca-certificates.crt:ro"]
            environment["SSL_CERT_FILE"] = environment["PIP_CERT"] = (
                "/etc/ssl/certs/ca-certificates.crt"
            )
        for key, value in environment.items():
            argv += ["-e", f"{key}={value}"]
        return [*argv, image, *(self.run_cmd or ["python3", "/usr/local/bin/refinery-build"])]

    def run(
        self, spec: BuildSpec, output_dir: Path, sink: LogSink, cancelled: Callable[[], bool]
    ) -> RunResult:
        started = time.monotonic()
        output_dir.mkdir(parents=True, exist_ok=True)
        container = f"{container_prefix(spec.job_id)}{uuid.uuid4().hex[:8]}"
        resolved = self._image_for(spec)
        argv = self.command(spec, output_dir, container, resolved)
        image, _, image_id = resolved
        where: dict[str, str | None] = {"image": image, "image_id": image_id}
        sink.write(f"podman runner: {image} as {container}")

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
            env=marked(podman_env(self.containers_conf), spec.job_id),
            sink=sink,
            timeout=self.timeout,
            cancelled=cancelled,
            kill=kill,
        )
        elapsed = time.monotonic() - started
        wheels = sorted(output_dir.glob("*.whl"))
        if stopped:
            sink.write(f"podman runner: build {stopped} after {elapsed:.1f} s; container killed")
            return RunResult(None, [], elapsed, stopped, environment=where)
        if code in _PODMAN_FAILURES:
            return RunResult(code, [], elapsed, "infrastructure", _PODMAN_FAILURES[code], where)
        if code != 0:
            detail = f"exit code {code}"
            return RunResult(code, [], elapsed, reason_for_exit(code or 1), detail, where)
        if not wheels:
            return RunResult(code, [], elapsed, "build_error", "the build produced no wheel", where)
        return RunResult(code, wheels, elapsed, "", environment=where)
