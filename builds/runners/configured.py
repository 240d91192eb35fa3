"""Which runner a worker on this host uses (``RUNNER``), and which targets it can build."""

from __future__ import annotations

import platform

from django.conf import settings

from builds.runners.base import Runner
from builds.runners.local import LocalRunner
from builds.runners.podman import PodmanRunner


def runner_named(name: str) -> Runner:
    if name == "podman":
        return PodmanRunner.from_settings()
    return LocalRunner.from_settings()


def buildable_arches(runner: Runner) -> list[str]:
    """The local runner builds for this machine; podman for every arch it has an image for."""
    if isinstance(runner, PodmanRunner):
        return PodmanRunner.arches()
    return [platform.machine()]


def configured_runner() -> Runner:
    return runner_named(settings.RUNNER)
