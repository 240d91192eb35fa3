"""A hashed requirements file for a plan: what pip needs for ``--require-hashes``.

Every runtime node of the plan (build-only requirements are left out), pinned, with the sha256
of each wheel our store holds for it on the plan's target.
"""

from __future__ import annotations

from builds.index.catalog import artifacts_for_pins
from plans.models import Plan


class LockfileError(Exception):
    """Some installed node has no wheel in our store yet; the message names them."""


def hashed_requirements(plan: Plan) -> str:
    lines = [f"# plan {plan.pk} for {plan.target}: pip install --require-hashes -r <this file>"]
    missing = []
    runtime = [n for n in plan.nodes() if "runtime" in n.get("roles", ["runtime"])]
    stored = artifacts_for_pins(plan.target, ((n["name"], n["version"]) for n in runtime))
    for node in sorted(runtime, key=lambda n: n["name"]):
        wheels = stored.get((node["name"], node["version"]), [])
        if not wheels:
            missing.append(f"{node['name']}=={node['version']}")
            continue
        hashes = " ".join(f"--hash=sha256:{w.sha256}" for w in wheels)
        lines.append(f"{node['name']}=={node['version']} {hashes}")
    if missing:
        raise LockfileError(f"no wheel in the store yet for {', '.join(missing)}")
    return "\n".join(lines) + "\n"
