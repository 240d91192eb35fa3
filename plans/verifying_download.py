"""A file read while it downloads, its sha256 checked at its end.

Reading an sdist's build requirements used to wait for the whole download before the first
byte was unpacked; for the large sdists of a full plan (pillow, matplotlib: 40-50 MB, their
``pyproject.toml`` near the end) the download and the unpacking then took turns. Here the
reader unpacks what has arrived while the rest arrives. Nothing read is trusted before the
file's sha256 is checked: ``finish`` reads what the reader left and checks the digest. The
file itself is not kept: what was read from it is (by its sha256), and writing a full
plan's 150 MB of sdists to disk cost as much CPU as unpacking them (measured).
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import urllib3

_CHUNK = 1 << 16


class DigestMismatch(Exception):
    def __init__(self, actual: str) -> None:
        super().__init__(actual)
        self.actual = actual


class VerifyingDownload(io.RawIOBase):
    """The body of ``response`` as a stream, every byte read hashed; ``finish`` reads the
    rest and checks the whole against ``sha256``."""

    def __init__(self, response: urllib3.BaseHTTPResponse, sha256: str) -> None:
        self._response = response
        self._expected = sha256
        self._digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._response.read(len(buffer))
        self._digest.update(data)
        buffer[: len(data)] = data
        return len(data)

    def finish(self) -> None:
        """Read the rest and check the sha256; DigestMismatch if it differs."""
        for chunk in self._response.stream(_CHUNK):
            self._digest.update(chunk)
        actual = self._digest.hexdigest()
        if actual != self._expected:
            raise DigestMismatch(actual)

    def close(self) -> None:
        self._response.release_conn()
        super().close()
