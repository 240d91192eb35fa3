"""A requirements file's bytes into numbered logical lines, as pip reads them
(``pip._internal.req.req_file``): the same decoding, line splitting, continuations and
comments, so that a file means here what it means to ``pip install -r``.

Where pip would guess, we refuse: bytes that are not UTF-8 and name no encoding are not
decoded with the server's locale (pip's fallback), and ``${NAME}`` is not expanded from the
server's environment. Both are refused by the parser with the line number."""

from __future__ import annotations

import codecs
import re

from inputs.requirements_error import RequirementsError

# pip's order: BOM_UTF16_LE is a prefix of BOM_UTF32_LE, so UTF-32 is tried first.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
# PEP 263's coding cookie, which pip honours on a comment in the first two lines.
_CODING = re.compile(rb"coding[:=]\s*([-\w.]+)")
# Codecs for other jobs than files (host names); punycode also decodes in quadratic time.
_NOT_FOR_FILES = {"idna", "punycode"}


def decode(content: bytes) -> str:
    """The text of a requirements file: a BOM's encoding, else a coding cookie's, else
    UTF-8; anything else is refused naming the line."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return _decoded(content[len(bom) :], encoding, f"its byte order mark ({encoding})")
    for number, line in enumerate(content.split(b"\n")[:2], start=1):
        cookie = _CODING.search(line) if line.startswith(b"#") else None
        if cookie is not None:
            name = cookie.group(1).decode("ascii")
            try:
                codec = codecs.lookup(name)
            except LookupError:
                raise RequirementsError(
                    f"unknown encoding {name!r} in the coding line", number
                ) from None
            if codec.name in _NOT_FOR_FILES:
                raise RequirementsError(f"{name!r} is not an encoding for a file", number)
            return _decoded(content, name, f"its coding line ({name})")
    return _decoded(content, "utf-8", "UTF-8")


def _decoded(content: bytes, encoding: str, named_by: str) -> str:
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        hint = "" if named_by != "UTF-8" else "; name another with a '# -*- coding: … -*-' line"
        raise RequirementsError(
            f"not {named_by} (byte 0x{content[exc.start]:02x}){hint}", line
        ) from None
    except LookupError:  # a codec that is not a text encoding (base64, zlib …)
        raise RequirementsError(f"{encoding!r} is not a text encoding", 1) from None
    except UnicodeError:  # a decoder that cannot say where
        raise RequirementsError(f"not {named_by}", 1) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise RequirementsError(
            "binary content (a NUL byte); upload a text requirements file", line
        )
    return text


def strip_comment(line: str) -> str:
    """``line`` without its comment: from the first ``#`` that starts the line or follows
    whitespace, as pip's ``(^|\\s+)#.*$`` does, but in one pass. (That regex backtracks over
    every run of spaces: a 30,000-space line took 37 s, holding the GIL all along.)"""
    start = line.find("#")
    while start > 0 and not line[start - 1].isspace():
        start = line.find("#", start + 1)
    return line if start < 0 else line[:start]


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """pip's line handling: lines as ``str.splitlines`` splits them (``\\r``, form feeds and
    other separators count, as they do for pip), backslash continuations joined (never on a
    comment line), each logical line numbered by its first physical line."""
    joined: list[tuple[int, str]] = []
    start: int | None = None
    parts: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.endswith("\\") and not _is_comment(line):
            if start is None:
                start = number
            parts.append(line.strip("\\"))
            continue
        if _is_comment(line):
            line = " " + line  # still a comment once joined to what came before
        if start is not None:
            joined.append((start, "".join([*parts, line])))
            start, parts = None, []
        else:
            joined.append((number, line))
    if start is not None:
        joined.append((start, "".join(parts)))
    return joined


def split_options(line: str) -> tuple[str, str]:
    """pip's ``break_args_options``: the requirement, and the options from the first
    space-separated token that starts with ``-``."""
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return line, ""
