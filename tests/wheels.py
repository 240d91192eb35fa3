"""Real wheel files for tests, made the way build backends make them (RECORD and all)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(
    directory: Path,
    name: str = "demo",
    version: str = "1.0",
    tag: str = "py3-none-any",
    *,
    requires_python: str | None = ">=3.8",
    metadata_name: str | None = None,
    metadata_version: str | None = None,
    wheel_tags: list[str] | None = None,
    extra_files: dict[str, bytes] | None = None,
    unrecorded: dict[str, bytes] | None = None,
    tamper: dict[str, bytes] | None = None,
    filename: str | None = None,
    requires_dist: list[str] | None = None,
    metadata_extra: str = "",
) -> Path:
    """A wheel whose RECORD is right, unless a keyword asks for one specific defect:
    ``unrecorded`` files are not listed in RECORD, ``tamper`` changes a file after RECORD
    was written."""
    dist_info = f"{name}-{version}.dist-info"
    metadata = (
        f"Metadata-Version: 2.1\nName: {metadata_name or name}\n"
        f"Version: {metadata_version or version}\n"
    )
    if requires_python:
        metadata += f"Requires-Python: {requires_python}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires_dist or [])
    metadata += metadata_extra
    wheel = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n" + "".join(
        f"Tag: {t}\n" for t in (wheel_tags or [tag])
    )
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n".encode(),
        **(extra_files or {}),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": wheel.encode(),
    }
    record = "".join(f"{path},{record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    files.update(unrecorded or {})
    files.update(tamper or {})
    path = directory / (filename or f"{name}-{version}-{tag}.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path
