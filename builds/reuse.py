"""Reused wheels go into our store too, so our index alone can install a whole plan."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection
from packaging.utils import canonicalize_name, parse_wheel_filename

from builds.artifacts import ArtifactError, store_wheel
from builds.index.catalog import artifacts_for_pins
from builds.models import Artifact
from plans.index_client import DistFile, IndexFetchError
from plans.models import Plan, Target
from plans.planner import make_index_client

logger = logging.getLogger(__name__)


class StoredWheels:
    """What our store holds for many pins, read in one query (a whole plan's nodes)."""

    def __init__(self, target: Target, pins: Iterable[tuple[str, str]]) -> None:
        self._found = artifacts_for_pins(target, pins)

    def has(self, name: str, version: str, *, built_here: bool = False) -> bool:
        """Whether our store holds a wheel of ``name==version`` that installs on the target
        (whichever target it was first stored for: a pure-Python wheel serves them all);
        ``built_here`` counts only wheels built from source here (``--no-binary``)."""
        wheels = self._found.get((canonicalize_name(name), version), [])
        if built_here:
            wheels = [wheel for wheel in wheels if wheel.origin == Artifact.Origin.BUILT]
        return bool(wheels)


def _dist_file(source: dict[str, Any]) -> DistFile:
    name, version, _, _ = parse_wheel_filename(source["filename"])
    return DistFile(
        filename=source["filename"],
        url=source["url"],
        sha256=source["sha256"],
        size=source.get("size"),
        requires_python=source.get("requires_python"),
        yanked=False,
        upload_time=source.get("upload_time"),
        core_metadata=False,
        name=name,
        version=version,
        is_wheel=True,
    )


def fetch_reused_wheels(plan: Plan) -> dict[str, str]:
    """Download, verify and store the upstream wheel of every ``reuse`` node not yet in our
    store. Returns ``{"name==version": error}`` for the ones that could not be had."""
    reused = [
        node
        for node in plan.nodes()
        if node.get("action") == "reuse" and node.get("source", {}).get("kind") == "wheel"
    ]
    stored = StoredWheels(plan.target, ((node["name"], node["version"]) for node in reused))
    wanted = [node for node in reused if not stored.has(node["name"], node["version"])]
    if not wanted:
        return {}
    errors: dict[str, str] = {}
    with make_index_client() as client:

        def fetch(node: dict[str, Any]) -> None:
            key = f"{node['name']}=={node['version']}"
            try:
                path = client.download(_dist_file(node["source"]))
                store_wheel(
                    path,
                    target=plan.target,
                    origin=Artifact.Origin.REUSED,
                    name=node["name"],
                    version=node["version"],
                    filename=node["source"]["filename"],
                    provenance={"upstream_url": node["source"]["url"], "plan": plan.pk},
                )
            except (IndexFetchError, ArtifactError) as exc:
                logger.warning("plan %s: could not reuse %s: %s", plan.pk, key, exc)
                errors[key] = str(exc)
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="reuse") as pool:
            list(pool.map(fetch, wanted))
    return errors
