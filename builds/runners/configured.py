"""Which runner a worker on this host uses (``RUNNER``), and which targets it can build.

``auto`` (the default) takes podman when it is installed and the preset's builder image
for this machine exists (builds in containers can install system packages, so they can be
repaired), and the local runner otherwise.
"""

from __future__ import annotations

import platform
import shutil

from django.conf import settings

from builds.runners.base import Runner
from builds.runners.local import LocalRunner
from builds.runners.podman import PodmanRunner


def runner_named(name: str, *, images_recorded: bool = True) -> Runner:
    """``images_recorded`` False: a remote worker, with no database to find images in."""
    if name == "podman" or (name == "auto" and podman_ready(images_recorded=images_recorded)):
        return PodmanRunner.from_settings()
    return LocalRunner.from_settings()


def podman_ready(*, images_recorded: bool = True) -> bool:
    """podman is installed and has this machine's builder image."""
    if shutil.which(settings.PODMAN_BIN) is None:
        return False
    if images_recorded:
        return platform.machine() in PodmanRunner.arches()
    return platform.machine() in PodmanRunner.from_settings().arches_in_podman()


def buildable_arches(runner: Runner) -> list[str]:
    """The local runner builds for this machine; podman for every arch it has an image for."""
    if isinstance(runner, PodmanRunner):
        return PodmanRunner.arches()
    return [platform.machine()]


def configured_runner() -> Runner:
    return runner_named(settings.RUNNER)
