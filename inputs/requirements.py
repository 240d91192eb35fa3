"""Strict parsing of an uploaded requirements file.

Accepted: PEP 508 requirements (extras, version specifiers, environment markers),
comments, blank lines, backslash continuations and per-requirement
``--hash=sha256:…`` options. Everything that would make a build fetch from somewhere
else or read other files is refused with the line number: URL, VCS, editable and
local-path requirements, ``-r``/``-c`` includes and index/find-links/trusted-host
options. Markers are evaluated for the upload's target, not for this host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from refinery.lib.target_env import TargetEnvironment

_COMMENT = re.compile(r"(^|\s+)#.*$")
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


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; each logical line keeps its first physical line number."""
    joined: list[tuple[int, str]] = []
    start: int | None = None
    buffer = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        if start is None:
            start = number
        line = _COMMENT.sub("", raw) if not raw.rstrip().endswith("\\") else raw
        if line.rstrip().endswith("\\"):
            buffer += line.rstrip()[:-1] + " "
            continue
        joined.append((start, buffer + line))
        buffer, start = "", None
    if start is not None:
        joined.append((start, buffer))
    return joined


def _option_error(token: str) -> str | None:
    name = token.split("=", 1)[0]
    for names, reason in _OPTION_REASONS.items():
        if name in names or any(name.startswith(n) and len(n) == 2 for n in names if len(n) == 2):
            return reason
    return None


def _parse_line(number: int, line: str) -> ParsedRequirement | None:
    line = _COMMENT.sub("", line).strip()
    if not line:
        return None
    if line.startswith("-"):
        reason = _option_error(line.split()[0])
        raise RequirementsError(reason or f"option {line.split()[0]!r} is not allowed", number)
    spec, _, options = line.partition(" --")
    options = ("--" + options) if options else ""
    spec = spec.strip()
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
    return ParsedRequirement(number, requirement, _parse_hashes(number, options, requirement))


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
    content: bytes, target: TargetEnvironment, *, max_bytes: int, max_lines: int
) -> list[ParsedRequirement]:
    """Parse and validate; raises ``RequirementsError`` naming the line and the reason."""
    if len(content) > max_bytes:
        raise RequirementsError(f"the file is {len(content)} bytes, over the limit of {max_bytes}")
    text = _decode(content)
    physical = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if physical > max_lines:
        raise RequirementsError(f"the file has {physical} lines, over the limit of {max_lines}")
    parsed = [p for n, line in _logical_lines(text) if (p := _parse_line(n, line)) is not None]
    if not parsed:
        raise RequirementsError("the file names no requirements")
    _check_conflicting_pins(parsed, target)
    return parsed


def _check_conflicting_pins(parsed: list[ParsedRequirement], target: TargetEnvironment) -> None:
    """Two lines that both apply to the target and pin one package to different versions."""
    pins: dict[str, ParsedRequirement] = {}
    for item in parsed:
        if not target.evaluate(item.requirement.marker):
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
