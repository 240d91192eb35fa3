"""Index file entries for tests that serve the files themselves."""

from __future__ import annotations

import hashlib

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from plans.project_pages import DistFile


def dist_file(filename: str, url: str, body: bytes, sha256: str | None = None) -> DistFile:
    """The entry an index would list for ``body`` served at ``url`` (its real sha256
    unless ``sha256`` says otherwise)."""
    is_wheel = filename.endswith(".whl")
    name, version = (
        parse_wheel_filename(filename)[:2] if is_wheel else parse_sdist_filename(filename)
    )
    return DistFile(
        filename=filename,
        url=url,
        sha256=sha256 or hashlib.sha256(body).hexdigest(),
        size=len(body),
        requires_python=None,
        yanked=False,
        upload_time=None,
        core_metadata=False,
        name=canonicalize_name(name),
        version=version,
        is_wheel=is_wheel,
    )
