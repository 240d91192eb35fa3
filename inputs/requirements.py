"""Strict parsing of an uploaded requirements file, reading it as pip reads it.

Accepted, with pip's meaning (``inputs.requirements_text`` for decoding, lines and
comments; tests/inputs/test_requirements_parity_with_pip.py holds the two parsers to the
same corpus): PEP 508 requirements (extras, version specifiers, environment markers),
comments, blank lines, backslash continuations, per-requirement ``--hash=sha256:…``
options, and pip's ``--no-binary`` / ``--only-binary`` lines (``inputs.format_control``).

Refused with the line number, deliberately, where pip would accept:
- whatever would make a build fetch from somewhere else or read other files: URL, VCS,
  editable and local-path requirements, ``-r``/``-c`` includes, index, find-links and
  trusted-host options;
- other options (``--pre``, ``--config-settings``, …): they would change a build in ways
  the plan does not record;
- hashes other than sha256, and ``--hash`` on a requirement not pinned with ``==``;
- ``${NAME}``: the server's environment is not the uploader's;
- bytes that are neither UTF-8 nor in an encoding the file names (pip guesses the locale);
- two lines that pin one package to versions that cannot both hold (pip's resolver would
  fail later, with less to go on);
- a file that names no requirement.
Markers are evaluated for the upload's target, not for this host.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from inputs.format_control import FormatControl, FormatControlError
from inputs.requirements_error import RequirementsError
from inputs.requirements_text import decode, logical_lines, split_options, strip_comment
from inputs.target_env import MarkerError, TargetEnvironment

_HASH = re.compile(r"sha256:([0-9a-fA-F]{64})")
__all__ = ["ParsedFile", "ParsedRequirement", "RequirementsError", "parse_requirements"]

_ENV_VARIABLE = re.compile(r"\$\{[A-Z0-9_]+\}")  # what pip would expand
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


def _option_line(number: int, line: str, formats: FormatControl) -> None:
    """A line of options: only the format options are allowed."""
    first = line.split("=", 1)[0].split()[0]
    if first in _FORMAT_OPTIONS:
        _format_option(number, line, formats)
        return
    reason = _option_error(first)
    raise RequirementsError(reason or f"option {first!r} is not allowed", number)


def _parse_line(number: int, line: str, formats: FormatControl) -> ParsedRequirement | None:
    line = strip_comment(line).strip()
    if not line:
        return None
    variable = _ENV_VARIABLE.search(line)
    if variable is not None:
        raise RequirementsError(
            f"{variable.group(0)} is not expanded: the server's environment is not yours; "
            "write the value itself",
            number,
        )
    spec, options = split_options(line)
    if not spec:
        _option_line(number, options, formats)
        return None
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


def _option_tokens(number: int, options: str) -> list[str]:
    """The options after a requirement, split as pip splits them (shell quoting)."""
    try:
        return shlex.split(options)
    except ValueError:
        raise RequirementsError(
            f"cannot split the options {options!r} (a quote left open?)", number
        ) from None


def _parse_hashes(number: int, options: str, requirement: Requirement) -> tuple[str, ...]:
    hashes: list[str] = []
    tokens = _option_tokens(number, options)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.startswith("--hash="):
            value, index = token.removeprefix("--hash="), index + 1
        elif token == "--hash" and index + 1 < len(tokens):
            value, index = tokens[index + 1], index + 2
        elif token == "--hash":
            raise RequirementsError("--hash needs a value such as sha256:<64 hex digits>", number)
        else:
            reason = _option_error(token)
            raise RequirementsError(
                reason or f"option {token!r} is not allowed after a requirement", number
            )
        match = _HASH.fullmatch(value)
        if match is None:
            raise RequirementsError(
                f"--hash {value!r} is not sha256:<64 hex digits> (only sha256 is supported)",
                number,
            )
        hashes.append(match.group(1).lower())
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
    text = decode(content)
    physical = len(text.splitlines())
    if physical > max_lines:
        raise RequirementsError(f"the file has {physical} lines, over the limit of {max_lines}")
    file_formats = FormatControl()
    parsed = [
        p
        for n, line in logical_lines(text)
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


def _exact_pin(requirement: Requirement) -> str | None:
    """The one version ``==`` (without a wildcard) or ``===`` allows, if any."""
    for specifier in requirement.specifier:
        if specifier.operator == "===" or (
            specifier.operator == "==" and not specifier.version.endswith(".*")
        ):
            return specifier.version
    return None


def _excludes(pinned: ParsedRequirement, other: ParsedRequirement) -> bool:
    """``pinned`` names one version and ``other``'s specifiers rule it out: as versions,
    so ``==1.0`` and ``==1.0.0`` agree and ``==1.*`` admits ``==1.2``."""
    version = _exact_pin(pinned.requirement)
    if version is None:
        return False
    return not other.requirement.specifier.contains(version, prereleases=True)


def _check_conflicting_pins(parsed: list[ParsedRequirement], target: TargetEnvironment) -> None:
    """Two lines that both apply to the target, one pinning a package to a version the
    other rules out."""
    seen: dict[str, list[ParsedRequirement]] = {}
    for item in parsed:
        if not _applies(item, target):
            continue
        earlier_lines = seen.setdefault(canonicalize_name(item.requirement.name), [])
        for earlier in earlier_lines:
            if _excludes(item, earlier) or _excludes(earlier, item):
                raise RequirementsError(
                    f"{item.requirement} conflicts with {earlier.requirement} "
                    f"on line {earlier.line}",
                    item.line,
                )
        earlier_lines.append(item)
