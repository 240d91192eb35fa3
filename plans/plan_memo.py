"""A re-plan of unchanged requirements against an unchanged index is a lookup.

A plan is a function of its requirements, target, overrides, preferred versions, the
index's project pages it read and the (immutable, hash-addressed) metadata of files. So a
plan is kept with the identity of every page the planner read; planning the same input
again while each of those pages is still within the TTL and unchanged in the cache returns
the kept plan instead of resolving again. Once a page's TTL runs out it is fetched again,
and the plan is made afresh, exactly as without the memo.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from inputs.target_env import TargetEnvironment
from plans.plan_overrides import Overrides

if TYPE_CHECKING:
    from plans.dag import PlanDag
    from plans.index_client import IndexClient

# Bumped whenever what a plan holds, or how it is made, changes: old memos are then unused.
PLAN_FORMAT = 2


def memo_key(
    requirements: Sequence[Requirement],
    env: TargetEnvironment,
    overrides: Overrides,
    preferred: Mapping[NormalizedName, Version] | None,
    client: IndexClient,
) -> str:
    described = {
        "format": PLAN_FORMAT,
        "requirements": sorted(str(r) for r in requirements),
        "python": env.python_version,
        "platform": env.platform_tag,
        "indexes": client.index_urls,
        "force": {name: str(v) for name, v in sorted(overrides.force.items())},
        "exclude": sorted(overrides.exclude),
        "hashes": {name: sorted(h) for name, h in sorted(overrides.hashes.items())},
        "no_binary": sorted(overrides.formats.no_binary),
        "only_binary": sorted(overrides.formats.only_binary),
        "unbuildable": {n: sorted(map(str, v)) for n, v in sorted(overrides.unbuildable.items())},
        "preferred": {name: str(v) for name, v in sorted((preferred or {}).items())},
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _path(client: IndexClient, key: str) -> str:
    return os.path.join(client.cache_dir, "plans", key[:2], f"{key}.json")


def _identity(path: str) -> list[int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def recall(client: IndexClient, key: str) -> PlanDag | None:
    """The kept plan, if every page it was made from is unchanged and within the TTL."""
    from plans.dag import PlanDag

    try:
        with open(_path(client, key), "rb") as handle:
            kept: dict[str, Any] = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    if time.time() - kept.get("oldest_page", 0) >= client.ttl:
        return None
    for path, identity in kept.get("pages", {}).items():
        if _identity(path) != identity:
            return None
    return PlanDag.from_json(kept["dag"])


def remember(client: IndexClient, key: str, dag: PlanDag) -> None:
    """Keep ``dag`` with the identity of every page the client read to make it."""
    pages: dict[str, list[int]] = {}
    for path in client.page_files_read():
        identity = _identity(path)
        if identity is None:  # not cached (a 404 is asked again each time): keep nothing
            return
        pages[path] = identity
    oldest = min((identity[2] / 1e9 for identity in pages.values()), default=time.time())
    record = {"oldest_page": oldest, "pages": pages, "dag": dag.as_json()}
    path = _path(client, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.replace(temporary, path)
