"""A wheel's ``*.dist-info/METADATA`` out of its zip, without ``zipfile``'s cost per member.

Where an index serves no PEP 658 metadata, a plan reads each wheel's METADATA by HTTP range
requests: the end of the zip, its central directory, then that one member. ``zipfile``
builds a ``ZipInfo`` (and decodes its name and extra fields) for every member on opening:
profiled, 15,000 of them for one medium plan, the largest single cost of fetching metadata.
This scan looks at each central directory record only for its name, and decodes just the
one member wanted. It reads zip64 archives, refuses a member whose CRC-32 is wrong, and
reads only what ``zipfile`` would (the end record, the directory, the member).
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import BinaryIO

_END = b"PK\x05\x06"
_END_SIZE = 22
_END64_LOCATOR = b"PK\x06\x07"
_END64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_CENTRAL_SIZE = 46
_LOCAL = b"PK\x03\x04"
_LOCAL_SIZE = 30
_MAX_COMMENT = 0xFFFF
_STORED, _DEFLATED = 0, 8
_SATURATED = 0xFFFFFFFF
_METADATA = b".dist-info/METADATA"


class ZipScanError(Exception):
    """The file is not a zip this scan can read, or not a wheel with one METADATA."""


def _read_at(source: BinaryIO, offset: int, size: int) -> bytes:
    source.seek(offset)
    data = source.read(size)
    if len(data) != size:
        raise ZipScanError("the zip ends early")
    return data


def _directory_span(source: BinaryIO, size: int) -> tuple[int, int]:
    """(offset, size) of the central directory, from the end record (or zip64's)."""
    tail_size = min(size, _END_SIZE + _MAX_COMMENT)
    tail = _read_at(source, size - tail_size, tail_size)
    at = tail.rfind(_END)
    if at < 0 or len(tail) - at < _END_SIZE:
        raise ZipScanError("no end of central directory record")
    directory_size, directory_offset = struct.unpack_from("<LL", tail, at + 12)
    if directory_offset == _SATURATED or directory_size == _SATURATED:
        locator_at = size - tail_size + at - 20
        locator = _read_at(source, locator_at, 20)
        if locator[:4] != _END64_LOCATOR:
            raise ZipScanError("a zip64 archive without its locator")
        (end64_offset,) = struct.unpack_from("<Q", locator, 8)
        end64 = _read_at(source, end64_offset, 56)
        if end64[:4] != _END64:
            raise ZipScanError("no zip64 end of central directory record")
        directory_size, directory_offset = struct.unpack_from("<QQ", end64, 40)
    if directory_offset + directory_size > size:
        raise ZipScanError("the central directory lies past the end of the file")
    return directory_offset, directory_size


def _zip64_values(extra: bytes, wanted: list[bool]) -> list[int]:
    """The 8-byte values of the zip64 extra field, for each saturated field in order."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        if kind == 1:
            count = sum(wanted)
            if length < 8 * count:
                break
            return list(struct.unpack_from(f"<{count}Q", extra, at + 4))
        at += 4 + length
    raise ZipScanError("a zip64 member without its sizes")


def wheel_metadata(source: BinaryIO, size: int) -> bytes:
    """The one ``<name>.dist-info/METADATA`` at the top of the wheel in ``source`` (a
    seekable file of ``size`` bytes), decompressed and checked against its CRC-32."""
    directory_offset, directory_size = _directory_span(source, size)
    directory = _read_at(source, directory_offset, directory_size)
    found: list[tuple[int, int, int, int, int]] = []
    at = 0
    unpack = struct.Struct("<4s6xH4x3L3H8xL").unpack_from
    while at + _CENTRAL_SIZE <= len(directory):
        (signature, method, crc, compressed, plain, name_length, extra_length, comment_length,
         offset) = unpack(directory, at)  # fmt: skip
        if signature != _CENTRAL:
            raise ZipScanError("a damaged central directory")
        name_end = at + _CENTRAL_SIZE + name_length
        if directory.endswith(_METADATA, at + _CENTRAL_SIZE, name_end) and (
            directory.count(b"/", at + _CENTRAL_SIZE, name_end) == 1
        ):
            saturated = [plain == _SATURATED, compressed == _SATURATED, offset == _SATURATED]
            if any(saturated):
                values = iter(
                    _zip64_values(directory[name_end : name_end + extra_length], saturated)
                )
                plain, compressed, offset = (
                    next(values) if flag else value
                    for flag, value in zip(saturated, (plain, compressed, offset), strict=True)
                )
            found.append((method, crc, compressed, plain, offset))
        at = name_end + extra_length + comment_length
    if len(found) != 1:
        raise ZipScanError(f"expected one .dist-info/METADATA, found {len(found)}")
    return _member(source, *found[0])


def _member(
    source: BinaryIO, method: int, crc: int, compressed: int, plain: int, offset: int
) -> bytes:
    local = _read_at(source, offset, _LOCAL_SIZE)
    if local[:4] != _LOCAL:
        raise ZipScanError("a member without its local header")
    name_length, extra_length = struct.unpack_from("<HH", local, 26)
    data = _read_at(source, offset + _LOCAL_SIZE + name_length + extra_length, compressed)
    if method == _STORED:
        content = data
    elif method == _DEFLATED:
        try:
            content = zlib.decompressobj(-15).decompress(data, plain + 1)
        except zlib.error as exc:
            raise ZipScanError(f"METADATA does not inflate: {exc}") from None
    else:
        raise ZipScanError(f"METADATA is compressed with method {method}, not deflate")
    if len(content) != plain or zlib.crc32(content) != crc:
        raise ZipScanError("METADATA does not match its CRC-32 and size")
    return content


def wheel_metadata_of_bytes(data: bytes) -> bytes:
    """``wheel_metadata`` of a wheel held in memory."""
    return wheel_metadata(io.BytesIO(data), len(data))
