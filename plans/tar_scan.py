"""A few top-level files out of a tar stream, without ``tarfile``'s cost per member.

A cold full plan opens each sdist it must build to read its ``pyproject.toml``, and numpy's
or matplotlib's sit behind thousands of members. ``tarfile`` builds a ``TarInfo`` for every
header and parses every pax record in Python: profiled, two thirds of reading numpy's sdist,
holding the GIL while the resolver waits for it. This scan looks at each 512-byte header
only for what finding a file needs (its name, size, kind and checksum) and skips the rest
of the archive unread. It reads the formats sdists are written in (ustar, GNU long names,
pax), refuses a header whose checksum is wrong, and stops at the end-of-archive block.
"""

from __future__ import annotations

import io
from typing import BinaryIO

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_REGULAR = frozenset({b"0", b"\0", b"7"})
_EXTENDED = b"x"  # pax: records for the next member
_LONG_NAME = b"L"  # GNU: the next member's name
_POSIX_MAGIC = b"ustar\x0000"
_LONG_META_MAX = 1 << 20  # a pax header or long name larger than this is not an sdist's


class TarScanError(Exception):
    """The stream is not a tar archive this scan can read."""


def top_level_files(stream: BinaryIO, wanted: frozenset[str], max_size: int) -> dict[str, bytes]:
    """The regular files ``<top directory>/<name>`` for each name in ``wanted`` (the first
    of each, at most ``max_size`` bytes), reading ``stream`` front to back and no further
    than the last of them."""
    found: dict[str, bytes] = {}
    pax: dict[bytes, bytes] = {}
    long_name: bytes | None = None
    while len(found) < len(wanted):
        header = _read(stream, BLOCK)
        if not header or header == _ZERO_BLOCK:
            break  # the end of the archive
        if len(header) < BLOCK:
            raise TarScanError("the archive ends inside a header")
        _check_sum(header)
        kind = header[156:157]
        if kind in (_EXTENDED, _LONG_NAME, b"g", b"K"):
            data = _meta_data(stream, _number(header[124:136]))
            if kind == _EXTENDED:
                pax = _pax_records(data)
            elif kind == _LONG_NAME:
                long_name = data.split(b"\0", 1)[0]
            continue  # a global header or a long link name: nothing a file's name needs
        size = int(pax[b"size"]) if b"size" in pax else _number(header[124:136])
        if size < 0:
            raise TarScanError("a header's size is negative")
        name = pax.get(b"path") or long_name or _ustar_name(header)
        pax, long_name = {}, None
        parts = name.decode("utf-8", "surrogateescape").removeprefix("./").split("/")
        padded = _padded(size)
        if (
            kind in _REGULAR
            and len(parts) == 2
            and parts[1] in wanted
            and parts[1] not in found
            and size <= max_size
        ):
            data = _read(stream, padded)
            if len(data) < size:
                raise TarScanError(f"the archive ends inside {name.decode(errors='replace')}")
            found[parts[1]] = data[:size]
        elif padded:
            _skip(stream, padded)
    return found


def _padded(size: int) -> int:
    """The bytes a member's data takes in the archive: whole 512-byte blocks."""
    return -(-size // BLOCK) * BLOCK


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    while 0 < len(data) < size:  # a raw stream may answer short
        more = stream.read(size - len(data))
        if not more:
            break
        data += more
    return data


def _skip(stream: BinaryIO, size: int) -> None:
    if stream.seekable():
        stream.seek(size, io.SEEK_CUR)  # a gzip stream inflates past it without copying
        return
    while size > 0:
        chunk = stream.read(min(size, 1 << 20))
        if not chunk:
            return
        size -= len(chunk)


def _check_sum(header: bytes) -> None:
    """The ustar checksum: the header's bytes added up with the checksum field as spaces
    (old writers added them as signed bytes, which tar readers accept too)."""
    stored = _number(header[148:156])
    unsigned = sum(header) - sum(header[148:156]) + 8 * 32
    if stored != unsigned:
        signed = unsigned - 256 * sum(1 for byte in header if byte > 127)
        if stored != signed:
            raise TarScanError("a header's checksum is wrong (not a tar archive, or damaged)")


def _number(field: bytes) -> int:
    """A numeric header field: octal text, or base-256 when the first byte says so."""
    if field[:1] in (b"\x80", b"\xff"):
        value = int.from_bytes(field[1:], "big")
        return value - (256 ** (len(field) - 1)) if field[:1] == b"\xff" else value
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarScanError(f"a header's number is not octal: {text[:20]!r}") from None


def _meta_data(stream: BinaryIO, size: int) -> bytes:
    if size > _LONG_META_MAX:
        raise TarScanError(f"an extended header of {size} bytes")
    padded = _padded(size)
    data = _read(stream, padded)
    if len(data) < size:
        raise TarScanError("the archive ends inside an extended header")
    return data[:size]


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    """pax records, ``<length> <key>=<value>\\n`` each; only ``path`` and ``size`` are kept."""
    records: dict[bytes, bytes] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position)
        try:
            length = int(data[position:space])
        except ValueError:
            raise TarScanError("a pax header is malformed") from None
        if space < 0 or length <= 0 or position + length > len(data):
            raise TarScanError("a pax header is malformed")
        key, _, value = data[space + 1 : position + length - 1].partition(b"=")
        if key in (b"path", b"size"):
            records[key] = value
        position += length
    if b"size" in records and not records[b"size"].isdigit():
        raise TarScanError("a pax header's size is not a number")
    return records


def _ustar_name(header: bytes) -> bytes:
    name = header[0:100].split(b"\0", 1)[0]
    if header[257:265] == _POSIX_MAGIC:  # GNU's header keeps other fields where this is
        prefix = header[345:500].split(b"\0", 1)[0]
        if prefix:
            return prefix + b"/" + name
    return name
