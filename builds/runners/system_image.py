"""Builder images with a recipe's system packages installed: made once per (base image,
package set) by a step of their own, then reused by every build that needs the same set.

The step runs the build script in ``system-packages`` mode (the package manager and nothing
else: no sdist is fetched, none of its code runs) in a container with only the package
manager's capabilities, then keeps that container as an image. The build that follows runs
in the sandbox proper, on that image, with ``SYSTEM_PACKAGES_READY=1``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from builds.log_sink import LogSink
from builds.runners.base import stream_process

REPOSITORY = "localhost/refinery-deps"
# Part of every image's name: changing how the step makes images changes it, so an image made
# the old way is never taken for a new one.
STEP_VERSION = 2
# Images beyond this many (the least recently made first) are removed when a new one is made.
KEEP = 50


def system_packages(recipes: Sequence[dict[str, object]]) -> list[str]:
    """Every system package the recipes name, sorted, once each."""
    packages: set[str] = set()
    for recipe in recipes:
        if recipe.get("type") == "system_packages":
            listed = recipe.get("packages")
            if isinstance(listed, list):
                packages.update(str(package) for package in listed)
    return sorted(packages)


def image_for(base: str, base_id: str | None, packages: Sequence[str]) -> str:
    """The derived image's name: the same base and packages always give the same name."""
    key = json.dumps([STEP_VERSION, base, base_id or "", sorted(packages)]).encode()
    return f"{REPOSITORY}:{hashlib.sha256(key).hexdigest()[:24]}"


@dataclass(frozen=True)
class StepOutcome:
    image: str
    exit_code: int | None
    stopped: str  # "" | "timeout" | "cancelled"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.stopped


class SystemImages:
    def __init__(self, podman_bin: str, env: dict[str, str]) -> None:
        self.podman_bin = podman_bin
        self.env = env

    def _podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.podman_bin, *args], env=self.env, capture_output=True, text=True
        )

    def exists(self, image: str) -> bool:
        return self._podman("image", "exists", image).returncode == 0

    def ensure(
        self,
        image: str,
        run_argv: Callable[[str], list[str]],
        *,
        container_prefix: str,
        sink: LogSink,
        timeout: float,
        cancelled: Callable[[], bool],
        stream_env: dict[str, str],
    ) -> StepOutcome:
        """``image`` made if missing: ``run_argv(container)`` is the step's ``podman run``
        (without --rm: the container is kept as the image, then removed)."""
        if self.exists(image):
            sink.write(f"podman runner: system packages already in {image}")
            return StepOutcome(image, 0, "")
        container = f"{container_prefix}deps-{uuid.uuid4().hex[:8]}"
        sink.write(f"podman runner: installing system packages as {container}")
        try:
            code, stopped = stream_process(
                run_argv(container),
                env=stream_env,
                sink=sink,
                timeout=timeout,
                cancelled=cancelled,
                kill=lambda process: self._kill(container, process),
            )
            if code == 0 and not stopped:
                committed = self._podman("commit", "--quiet", container, image)
                if committed.returncode != 0:
                    sink.write(f"podman runner: could not keep {image}: {committed.stderr}")
                    return StepOutcome(image, 125, "")
                sink.write(f"podman runner: system packages kept as {image}")
                self._prune(keep=image)
            return StepOutcome(image, code, stopped)
        finally:
            self._podman("rm", "--force", container)

    def _kill(self, container: str, process: subprocess.Popen[str]) -> None:
        self._podman("kill", container)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        if process.poll() is None:
            process.kill()

    def _prune(self, keep: str) -> None:
        """Oldest first beyond KEEP; an image a running build uses stays (podman refuses)."""
        listed = self._podman("images", "--filter", f"reference={REPOSITORY}", "--format", "json")
        try:
            images = json.loads(listed.stdout or "[]")
        except json.JSONDecodeError:
            return
        images.sort(key=lambda entry: entry.get("Created", 0), reverse=True)
        for entry in images[KEEP:]:
            names = [name for name in entry.get("Names") or [] if name != keep]
            if names:
                self._podman("rmi", *names)
