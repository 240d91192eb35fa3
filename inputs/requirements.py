"""Strict parsing of an uploaded requirements file.

Accepted: PEP 508 requirements (extras, version specifiers, environment markers),
comments, blank lines, backslash continuations, per-requirement ``--hash=sha256:…``
options, and pip's ``--no-binary`` / ``--only-binary`` lines (``inputs.format_control``).
Everything that would make a build fetch from somewhere else or read other files is
refused with the line number: URL, VCS, editable and local-path requirements, ``-r``/``-c``
includes and index/find-links/trusted-host options. Markers are evaluated for the upload's
target, not for this host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from inputs.format_control import FormatControl, FormatControlError
from refinery.lib.target_env import MarkerError, TargetEnvironment

_HASH = re.compile(r"sha256:([0-9a-fA-F]{64})")
_VCS = re.compile(r"^(git|hg|svn|bzr)\+", re.IGNORECASE)
_OPTION_REASONS = {
    ("-r", "--requirement"): "includes (-r) are not allowed; upload one self-contained file",
    (
        "-c",
        "--constraint",
    ): "constraint files (-c) are not allowed; pin versions in the file itself",
    ("-e", "--editable"): "editable requirements are not allowed",
    ("-i", "--index-url", "--extra-index-url", "--no-index"): (
        "index options are not allowed: an upload must not change where builds fetch from"
    ),
    (
        "-f",
        "--find-links",
    ): "--find-links is not allowed: an upload must not change where builds fetch from",
    ("--trusted-host",): "--trusted-host is not allowed: an upload must not weaken TLS checks",
}


# What the database columns hold (BuildJob.name, .version), and a bound on a requirement's
# text so that no later parser sees an unbounded string.
MAX_NAME_CHARS = 200
MAX_VERSION_CHARS = 100
MAX_SPEC_CHARS = 4096


class RequirementsError(ValueError):
    """A rejected file; ``line`` is 1-based, or None for whole-file problems."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


@dataclass(frozen=True)
class ParsedRequirement:
    line: int
    requirement: Requirement
    hashes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "requirement": str(self.requirement),
            "name": canonicalize_name(self.requirement.name),
            "hashes": list(self.hashes),
        }


@dataclass(frozen=True)
class ParsedFile:
    requirements: list[ParsedRequirement]
    format_control: FormatControl


_FORMAT_OPTIONS = ("--no-binary", "--only-binary")


def _decode(content: bytes) -> str:
    if b"\x00" in content:
        line = content[: content.index(b"\x00")].count(b"\n") + 1
        raise RequirementsError(
            "binary content (a NUL byte); upload a text requirements file", line
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise RequirementsError(f"not UTF-8 (byte 0x{content[exc.start]:02x})", line) from None


def _strip_comment(line: str) -> str:
    """``line`` without its comment: from the first ``#`` that starts the line or follows
    whitespace, as pip's ``(^|\\s+)#.*$`` does, but in one pass. (That regex backtracks over
    every run of spaces: a 30,000-space line took 37 s, holding the GIL all along.)"""
    start = line.find("#")
    while start > 0 and not line[start - 1].isspace():
        start = line.find("#", start + 1)
    return line if start < 0 else line[:start]


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _logical_lines(text: str) -> list[tuple[int, str]]:
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


def _option_error(token: str) -> str | None:
    name = token.split("=", 1)[0]
    for names, reason in _OPTION_REASONS.items():
        if name in names or any(name.startswith(n) and len(n) == 2 for n in names if len(n) == 2):
            return reason
    return None


def _format_option(number: int, line: str, formats: FormatControl) -> None:
    """``--no-binary VALUE`` / ``--only-binary=VALUE`` on a line of its own."""
    option, _, value = line.replace("=", " ", 1).partition(" ")
    value = value.strip()
    if " " in value:
        raise RequirementsError(f"{option} takes one value (a comma list), not {value!r}", number)
    try:
        formats.add(option, value)
    except FormatControlError as exc:
        raise RequirementsError(str(exc), number) from None


def _parse_line(number: int, line: str, formats: FormatControl) -> ParsedRequirement | None:
    line = _strip_comment(line).strip()
    if not line:
        return None
    first = line.split("=", 1)[0].split()
    if first and first[0] in _FORMAT_OPTIONS:
        _format_option(number, line, formats)
        return None
    if line.startswith("-"):
        reason = _option_error(line.split()[0])
        raise RequirementsError(reason or f"option {line.split()[0]!r} is not allowed", number)
    spec, _, options = line.partition(" --")
    options = ("--" + options) if options else ""
    spec = spec.strip()
    if len(spec) > MAX_SPEC_CHARS:
        raise RequirementsError(
            f"the requirement is {len(spec)} characters long, over the limit of {MAX_SPEC_CHARS}",
            number,
        )
    if _VCS.match(spec):
        raise RequirementsError("VCS requirements are not allowed", number)
    if "://" in spec or spec.startswith("file:"):
        reason = "URL requirements (name @ url) are not allowed" if "@" in spec else None
        raise RequirementsError(reason or "URL requirements are not allowed", number)
    if spec.startswith((".", "/", "~")) or spec.endswith((".whl", ".tar.gz", ".zip", ".tgz")):
        raise RequirementsError("local paths are not allowed", number)
    try:
        requirement = Requirement(spec)
    except InvalidRequirement as exc:
        first_line = str(exc).splitlines()[0]
        raise RequirementsError(f"not a valid requirement: {first_line}", number) from None
    if requirement.url:
        raise RequirementsError("URL requirements (name @ url) are not allowed", number)
    _check_lengths(number, requirement)
    return ParsedRequirement(number, requirement, _parse_hashes(number, options, requirement))


def _check_lengths(number: int, requirement: Requirement) -> None:
    """Names and versions must fit where they are stored; an empty version (``x===``) is
    no version at all."""
    for name in (requirement.name, *requirement.extras):
        if len(name) > MAX_NAME_CHARS:
            raise RequirementsError(
                f"the name {name[:40]!r}… is {len(name)} characters long, over the limit of "
                f"{MAX_NAME_CHARS}",
                number,
            )
    for specifier in requirement.specifier:
        if not specifier.version.strip():
            raise RequirementsError(f"{specifier.operator} needs a version", number)
        if len(specifier.version) > MAX_VERSION_CHARS:
            raise RequirementsError(
                f"the version {specifier.version[:40]!r}… is {len(specifier.version)} "
                f"characters long, over the limit of {MAX_VERSION_CHARS}",
                number,
            )


def _parse_hashes(number: int, options: str, requirement: Requirement) -> tuple[str, ...]:
    hashes: list[str] = []
    tokens = options.replace("=", " ").split()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token != "--hash":
            reason = _option_error(token)
            raise RequirementsError(
                reason or f"option {token!r} is not allowed after a requirement", number
            )
        if index + 1 >= len(tokens):
            raise RequirementsError("--hash needs a value such as sha256:<64 hex digits>", number)
        match = _HASH.fullmatch(tokens[index + 1])
        if match is None:
            raise RequirementsError(
                f"--hash {tokens[index + 1]!r} is not sha256:<64 hex digits> "
                "(only sha256 is supported)",
                number,
            )
        hashes.append(match.group(1).lower())
        index += 2
    if hashes and not any(s.operator in ("==", "===") for s in requirement.specifier):
        raise RequirementsError("--hash needs the requirement pinned with ==", number)
    return tuple(hashes)


def parse_requirements(
    content: bytes,
    target: TargetEnvironment,
    *,
    max_bytes: int,
    max_lines: int,
) -> ParsedFile:
    """Parse and validate; raises ``RequirementsError`` naming the line and the reason."""
    if len(content) > max_bytes:
        raise RequirementsError(f"the file is {len(content)} bytes, over the limit of {max_bytes}")
    text = _decode(content)
    physical = len(text.splitlines())
    if physical > max_lines:
        raise RequirementsError(f"the file has {physical} lines, over the limit of {max_lines}")
    file_formats = FormatControl()
    parsed = [
        p
        for n, line in _logical_lines(text)
        if (p := _parse_line(n, line, file_formats)) is not None
    ]
    if not parsed:
        raise RequirementsError("the file names no requirements")
    _check_conflicting_pins(parsed, target)
    return ParsedFile(parsed, file_formats)


def _applies(item: ParsedRequirement, target: TargetEnvironment) -> bool:
    try:
        return target.evaluate(item.requirement.marker)
    except MarkerError as exc:
        raise RequirementsError(str(exc), item.line) from None


def _check_conflicting_pins(parsed: list[ParsedRequirement], target: TargetEnvironment) -> None:
    """Two lines that both apply to the target and pin one package to different versions."""
    pins: dict[str, ParsedRequirement] = {}
    for item in parsed:
        if not _applies(item, target):
            continue
        exact = [s.version for s in item.requirement.specifier if s.operator in ("==", "===")]
        if not exact:
            continue
        name = canonicalize_name(item.requirement.name)
        earlier = pins.get(name)
        if earlier is not None:
            earlier_exact = [
                s.version for s in earlier.requirement.specifier if s.operator in ("==", "===")
            ]
            if earlier_exact != exact:
                raise RequirementsError(
                    f"{item.requirement} conflicts with {earlier.requirement} "
                    f"on line {earlier.line}",
                    item.line,
                )
        pins.setdefault(name, item)
