"""Plain-text emails for input outcomes and regressions: what happened, to what, and where
to look, in a few lines a person reads on a phone."""

from __future__ import annotations

from typing import Any

from builds.notifications import event_types

_HEADLINES = {
    event_types.INPUT_PLANNED: "planned",
    event_types.INPUT_BUILT: "built: every wheel is in the index",
    event_types.INPUT_FAILED: "failed",
    event_types.JOB_REGRESSED: "regressed",
}


def subject(payload: dict[str, Any]) -> str:
    event, data = payload["type"], payload["data"]
    if "job" in data:
        job = data["job"]
        return f"[refinery] {job['name']} {job['version']} regressed on {job['target']}"
    item = data["input"]
    return f"[refinery] {item['filename']} ({item['target']}): {_HEADLINES.get(event, event)}"


def body(payload: dict[str, Any]) -> str:
    event, data = payload["type"], payload["data"]
    lines: list[str] = []
    if "job" in data:
        job, earlier = data["job"], data.get("regressed_from") or {}
        lines += [
            f"{job['name']} {job['version']} failed to build for {job['target']} "
            f"({job['status']}, {job['reason'] or 'no reason recorded'}).",
            f"Version {earlier.get('version', '?')} built before"
            + (f" on {earlier['built_at'][:10]}." if earlier.get("built_at") else "."),
            "",
            f"Error: {job['error'][:500] or '-'}",
            "",
            f"Build:   {job['links']['page']}",
            f"Log:     {job['links']['log']}",
            f"Package: {job['links']['package']}",
        ]
        if earlier.get("page"):
            lines.append(f"Earlier build: {earlier['page']}")
        return "\n".join(lines) + "\n"
    item, plan = data["input"], data.get("plan")
    failed = data.get("failed") or []
    headline = _HEADLINES.get(event, event)
    if failed:
        total = sum(data.get("jobs", {}).values())
        headline += f", {len(failed)} of {total} packages without a wheel"
    lines.append(f"{item['filename']} for {item['target']}: {headline}.")
    if item.get("error"):
        lines += ["", f"Error: {item['error'][:500]}"]
    if data.get("jobs"):
        counts = ", ".join(f"{count} {status}" for status, count in data["jobs"].items())
        lines += ["", f"Jobs: {counts}."]
    if failed:
        lines += ["", "Without a wheel:"]
        lines += [
            f"  {job['name']} {job['version']}: {job['status']}"
            + (f" ({job['reason']})" if job["reason"] else "")
            + f"  {job['page']}"
            for job in failed[:50]
        ]
        if len(failed) > 50:
            lines.append(f"  ... and {len(failed) - 50} more")
    if plan:
        lines += ["", f"Plan {plan['id']} ({plan['nodes']} packages): {plan['links']['page']}"]
    return "\n".join(lines) + "\n"
