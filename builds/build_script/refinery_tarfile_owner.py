"""Loaded into every Python of a podman build (``refinery-tarfile-owner.pth`` in
dist-packages). The build runs as root without CAP_CHOWN, so an archive's owners cannot be
kept; Python's tarfile, as root, tries, and on the refusal gives the member up before it
sets its mode: a bundled library's ``./configure`` comes out without its execute bit and
the build stops at "Permission denied" (pyjq). Owners are left as a non-root extraction
leaves them; modes and times are set as the archive says. (GNU tar: ``TAR_OPTIONS``.)"""

from __future__ import annotations

import contextlib
import tarfile
from typing import Any

_keep_owner = tarfile.TarFile.chown


def _chown_if_allowed(self: tarfile.TarFile, *args: Any, **kwargs: Any) -> None:
    # No CAP_CHOWN: the files stay the extracting user's.
    with contextlib.suppress(tarfile.ExtractError):
        _keep_owner(self, *args, **kwargs)


tarfile.TarFile.chown = _chown_if_allowed  # type: ignore[method-assign]
