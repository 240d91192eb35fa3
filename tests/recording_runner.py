"""The real local runner, noting which packages it has started to build, and a queued plan
of two quick independent builds for it: what tests of a slot's order of work share."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from builds.plan_builds import enqueue_plan_builds
from builds.runners.local import LocalRunner
from plans.models import Plan
from tests.factories import PlanFactory
from tests.sdists import setuptools_sdist_node

QUICK_SETUP_PY = "from setuptools import setup\nsetup()\n"


class RecordingRunner(LocalRunner):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.started: dict[str, threading.Event] = {}

    def started_event(self, name: str) -> threading.Event:
        return self.started.setdefault(name, threading.Event())

    def run(self, spec: Any, *args: Any, **kwargs: Any) -> Any:
        self.started_event(spec.name).set()
        return super().run(spec, *args, **kwargs)


def queued_quick_builds(tmp_path: Path, names: tuple[str, ...]) -> Plan:
    """A plan of quick setuptools builds of ``names``, none waiting for another, queued."""
    nodes = [setuptools_sdist_node(tmp_path, name, QUICK_SETUP_PY) for name in names]
    plan = PlanFactory(dag={"nodes": nodes, "edges": []})
    enqueue_plan_builds(plan, actor="test")
    return plan
