"""Rendering the simple pages: PEP 503 HTML (+ PEP 629 meta) and PEP 691 JSON, with
PEP 592 yanks, PEP 658/714 core metadata and PEP 700 versions, sizes and upload times.

File URLs are relative (``../../files/<sha256>/<filename>``), so a rendered page is the same
whatever host or prefix it is served under.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.template.loader import render_to_string
from packaging.version import InvalidVersion, Version

from builds.models import Artifact

API_VERSION = "1.1"


@dataclass(frozen=True)
class RenderedPage:
    html: bytes
    json: bytes


def file_url(artifact: Artifact) -> str:
    return f"../../files/{artifact.sha256}/{artifact.filename}"


def _upload_time(artifact: Artifact) -> str:
    return artifact.uploaded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:  # uploaded before validation got stricter: sort it first
        return (0, text)


def _file_json(artifact: Artifact) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": artifact.filename,
        "url": file_url(artifact),
        "hashes": {"sha256": artifact.sha256},
    }
    if artifact.requires_python:
        entry["requires-python"] = artifact.requires_python
    # PEP 714 renamed the key; the old one stays for clients that predate it.
    entry["core-metadata"] = {"sha256": artifact.metadata_sha256}
    entry["dist-info-metadata"] = {"sha256": artifact.metadata_sha256}
    entry["yanked"] = (artifact.yanked_reason or True) if artifact.yanked else False
    entry["size"] = artifact.size
    entry["upload-time"] = _upload_time(artifact)
    return entry


def render_project(name: str, files: list[Artifact]) -> RenderedPage:
    ordered = sorted(files, key=lambda a: (_version_key(a.version), a.filename))
    versions = sorted({a.version for a in files}, key=_version_key)
    html = render_to_string(
        "index/project.html",
        {
            "api_version": API_VERSION,
            "name": name,
            "files": [
                {
                    "url": file_url(a),
                    "filename": a.filename,
                    "sha256": a.sha256,
                    "metadata_sha256": a.metadata_sha256,
                    "requires_python": a.requires_python,
                    "yanked": a.yanked,
                    "yanked_reason": a.yanked_reason,
                }
                for a in ordered
            ],
        },
    )
    document = {
        "meta": {"api-version": API_VERSION},
        "name": name,
        "versions": versions,
        "files": [_file_json(a) for a in ordered],
    }
    return RenderedPage(html.encode("utf-8"), _json_bytes(document))


def render_root(names: list[str]) -> RenderedPage:
    html = render_to_string("index/root.html", {"api_version": API_VERSION, "names": names})
    document = {"meta": {"api-version": API_VERSION}, "projects": [{"name": n} for n in names]}
    return RenderedPage(html.encode("utf-8"), _json_bytes(document))


def root_lists(root_json: bytes, name: str) -> bool:
    """Whether a root page as ``render_root`` writes it lists the project ``name`` (a
    normalized name: nothing in it is escaped), without parsing the whole list."""
    return b'{"name":"' + name.encode() + b'"}' in root_json


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
