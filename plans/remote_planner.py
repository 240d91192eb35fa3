"""A plan worker that reaches the refinery only over HTTP (``manage.py run_worker --plans``).

It pops leased inputs (``POST /api/pending-inputs/pop``), resolves each with the same
``compute_plan`` the local cluster uses, against the index the server names, and posts
the plan (``POST /api/plans``); a plan that cannot be made is reported as failed with the
resolver's explanation (``POST /api/pending-inputs/status/{id}``). Long plans heartbeat
through the same status endpoint. No database is used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plans.dag import PlanError
from plans.index_client import IndexClient, IndexFetchError
from plans.planner import PlanRequest, compute_plan
from refinery.lib.api_client import ApiClient, ApiError, LeaseConflict

logger = logging.getLogger(__name__)

_HEARTBEAT_EVERY_SEC = 30.0


def _request(item: dict[str, Any]) -> PlanRequest:
    return PlanRequest(
        requirements=[dict(r) for r in item["requirements"]],
        python_version=str(item["python_version"]),
        platform_tag=str(item["platform_tag"]),
        strategy=str(item["strategy"]),
        overrides=dict(item.get("overrides") or {}),
        preferred={str(k): str(v) for k, v in (item.get("preferred") or {}).items()},
        max_deps=item.get("max_deps"),
        format_control=dict(item.get("format_control") or {}),
    )


def plan_one(
    client: ApiClient,
    item: dict[str, Any],
    worker_id: str,
    cache_dir: Path,
    *,
    ttl: float,
    say: Callable[[str], None],
) -> str:
    """Plan one popped input and report the outcome; returns a one-line summary."""
    input_id = int(item["id"])
    last_beat = time.monotonic()

    def progress(message: str) -> None:
        nonlocal last_beat
        if time.monotonic() - last_beat > _HEARTBEAT_EVERY_SEC:
            client.call(
                "POST",
                f"/api/pending-inputs/status/{input_id}",
                json={"worker": worker_id, "status": "planning"},
            )
            last_beat = time.monotonic()

    indexes = [str(item["index_url"]), *[str(u) for u in item.get("extra_index_urls", [])]]
    try:
        with IndexClient(indexes, cache_dir, ttl=ttl) as index:
            dag, snapshot = compute_plan(_request(item), index, progress)
    except (PlanError, IndexFetchError, ValueError, KeyError) as exc:
        client.call(
            "POST",
            f"/api/pending-inputs/status/{input_id}",
            json={"worker": worker_id, "status": "failed", "error": str(exc)[:20_000]},
        )
        return f"input {input_id}: failed ({exc})"
    try:
        plan = client.call(
            "POST",
            "/api/plans",
            json={"input_id": input_id, "worker": worker_id, "dag": dag, "snapshot": snapshot},
        ).json()
    except LeaseConflict as exc:
        return f"input {input_id}: not saved, it changed meanwhile ({exc})"
    return f"input {input_id}: plan {plan['id']} with {len(dag['nodes'])} nodes"


def drain_plans(
    client: ApiClient,
    worker_id: str,
    cache_dir: Path,
    *,
    pool_size: Callable[[], int],
    ttl: float,
    say: Callable[[str], None],
    once: bool = False,
) -> int:
    """Plan popped inputs until the plan queue is empty (``once``: one pop)."""
    done = 0
    while True:
        body = client.call(
            "POST", "/api/pending-inputs/pop", params={"max": pool_size(), "worker": worker_id}
        ).json()
        items = body.get("inputs", [])
        for item in items:
            try:
                say(plan_one(client, item, worker_id, cache_dir, ttl=ttl, say=say))
            except ApiError as exc:
                say(f"input {item.get('id')}: the server refused the report ({exc})")
            done += 1
        if once or not items:
            return done
