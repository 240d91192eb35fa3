"""Typed problems read off a failed build's log, each with the line that shows it.

A problem names what the build environment lacked: a C/C++ header, a pkg-config module, a
library to link, a program or config tool (``pkg-config`` itself included), a CMake
package, a compiler toolchain (Rust, Go, Fortran), a Python module needed at build time,
or, from free text, a library only named in prose. A failure none of these explain is one
``build_error`` problem carrying the line that best says what went wrong. ``transient``
marks a network hiccup: retried, never repaired.

The wordings come from logs of real builds (tests/hints/logs/); the patterns are written
to run in linear time on untrusted lines (anchored literals, bounded character classes,
no nested quantifiers), and every line is cut to ``MAX_LINE`` before matching.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_LINE = 2000
# Problems are read from the end of the log: the cause is there, not in the preamble.
TAIL_LINES = 4000

HEADER = "missing_header"
PKGCONFIG = "missing_pkgconfig"
LIBRARY = "missing_library"
PROGRAM = "missing_program"
CMAKE = "missing_cmake_package"
TOOLCHAIN = "missing_toolchain"
PYTHON_MODULE = "missing_python_module"
VAGUE = "missing_vague"
DISTRIBUTION = "missing_distribution"
BUILD_ERROR = "build_error"
UNREACHABLE = "unreachable_source"
TRANSIENT = "transient"
# What a build environment lacked (as opposed to an error in the build itself).
KINDS = (
    HEADER,
    PKGCONFIG,
    LIBRARY,
    PROGRAM,
    CMAKE,
    TOOLCHAIN,
    PYTHON_MODULE,
    VAGUE,
    DISTRIBUTION,
)


@dataclass(frozen=True)
class Problem:
    kind: str
    name: str
    evidence: str
    line: int  # 1-based, within the lines scanned
    detail: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def describe(self) -> str:
        what = {
            HEADER: "header",
            PKGCONFIG: "pkg-config module",
            LIBRARY: "library",
            PROGRAM: "program",
            CMAKE: "CMake package",
            TOOLCHAIN: "toolchain",
            PYTHON_MODULE: "Python module",
            VAGUE: "library",
            DISTRIBUTION: "build requirement on the index:",
        }.get(self.kind)
        if what is None:
            return f"{self.kind.replace('_', ' ')}: {self.evidence}"
        return f"missing {what} {self.name}"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "line": self.line,
            "evidence": self.evidence,
            **({"detail": self.detail} if self.detail else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Problem:
        return cls(
            str(data["kind"]),
            str(data["name"]),
            str(data.get("evidence", "")),
            int(data.get("line", 0)),
            dict(data.get("detail") or {}),
        )


# --- the patterns --------------------------------------------------------------------------

_NAME = r"[A-Za-z0-9_.+-]{1,100}"
_HEADER_FILE = r"[A-Za-z0-9_.+/-]{1,200}\.(?:h|hh|hpp|hxx|H)"

Matcher = Callable[[str], list[tuple[str, str]]]


def _one(kind: str, pattern: str, group: int = 1) -> Matcher:
    compiled = re.compile(pattern)

    def match(line: str) -> list[tuple[str, str]]:
        found = compiled.search(line)
        return [(kind, found.group(group))] if found else []

    return match


def _names(kind: str, pattern: str) -> Matcher:
    """Every name a match lists (``the libxml2 and libxslt development packages``)."""
    compiled = re.compile(pattern)

    def match(line: str) -> list[tuple[str, str]]:
        found = compiled.search(line)
        if found is None:
            return []
        return [(kind, name) for name in re.split(r",? and |, ", found.group(1)) if name]

    return match


_MATCHERS: list[Matcher] = [
    # gcc: "x.c:1:10: fatal error: foo/bar.h: No such file or directory"; clang: "'x.h' file
    # not found"; meson: "C header 'x.h' not found".
    _one(
        HEADER,
        rf"fatal error: '?({_HEADER_FILE})'?(?:: No such file or directory| file not found)",
    ),
    _one(HEADER, rf"\bC(?:\+\+)? header '({_HEADER_FILE})' not found"),
    # SWIG, following an %include into the system headers: "x.i:62: Error: Unable to find
    # 'openssl/opensslv.h'".
    _one(HEADER, rf"\.i:\d+: Error: Unable to find '({_HEADER_FILE})'"),
    # pkgconf / pkg-config, and the modules meson and cmake look up through them.
    _one(PKGCONFIG, rf"\bPackage '?({_NAME})'?,? (?:required by '[^']{{0,200}}', )?not found"),
    _one(PKGCONFIG, rf"\bPackage ({_NAME}) was not found in the pkg-config search path"),
    _one(PKGCONFIG, rf"^\s*No package '({_NAME})' found"),
    # setup.py helpers that ask pkg-config for a module with a version bound:
    # "pkg-config package 'libusb-1.0 >= 1.0.9' not found".
    _one(
        PKGCONFIG,
        rf"\bpkg-config package '({_NAME})(?: ?[<>=!]=? ?[A-Za-z0-9.]{{1,30}})?' not found",
    ),
    _one(PKGCONFIG, rf"Dependency lookup for ({_NAME}) with method 'pkg-?config' failed"),
    _one(PKGCONFIG, rf"\bDependency \"?({_NAME})\"? not found"),
    _one(PKGCONFIG, rf"Run-time dependency ({_NAME}) found: NO"),
    # FindPackageHandleStandardArgs: "Could NOT find ZLIB (missing: …)", or with the find
    # module's own words first ("Could NOT find OpenSSL, try to set the path to …"); CMake
    # wraps its messages, so the name may end the line. Not ": Found unsuitable version".
    _one(CMAKE, rf"Could NOT find ({_NAME})(?:,| \(missing:|\s*$)"),
    _one(CMAKE, rf"package configuration file provided by \"?({_NAME})\"?"),
    # pkg-config itself, in its many wordings.
    _one(PROGRAM, r"Pkg-?config for machine \S+ machine (not found)"),
    _one(PROGRAM, r"Did not find (pkg-config) by name"),
    _one(PROGRAM, r"\bUnable to invoke (pkg-config)"),
    _one(PROGRAM, r"\b(pkg-config) (?:binary|executable|tool) is required"),
    _one(PROGRAM, r"[Cc]ould not find (pkg-config)\b"),
    # The linker: "/usr/bin/ld: cannot find -lfoo: No such file or directory".
    _one(LIBRARY, rf"cannot find -l({_NAME}?)(?::|\s|$)"),
    _one(LIBRARY, rf"\bC(?:\+\+)? (?:shared or static )?library '({_NAME})' not found"),
    # Programs and config tools.
    _one(
        PROGRAM,
        rf"(?:^|\s)(?:/bin/|/usr/bin/)?(?:ba|da)?sh: (?:line )?(?:\d+: )?({_NAME}): "
        r"(?:command )?not found",
    ),
    _one(
        PROGRAM,
        rf"^(?:make|env)(?:\[\d+\])?: ({_NAME}): (?:Command not found|No such file or directory)",
    ),
    _one(PROGRAM, rf"FileNotFoundError: \[Errno 2\] No such file or directory: '({_NAME})'"),
    # distutils/setuptools reporting a command a setup.py spawned: "error: [Errno 2] No such
    # file or directory: 'autoreconf'" (a bare name: a program, not a data file).
    _one(PROGRAM, r"^\s*error: \[Errno 2\] No such file or directory: '([A-Za-z0-9_+-]{1,100})'$"),
    _one(
        PROGRAM,
        r"error: command '(?:[^'\s]{0,200}/)?([A-Za-z0-9_.+-]{1,100})' failed: "
        r"No such file or directory",
    ),
    _one(PROGRAM, rf"\b({_NAME}) executable (?:was )?not found"),
    _one(PROGRAM, rf"[Cc]ould not run ({_NAME}?):"),
    _one(PROGRAM, rf"'({_NAME})' command appears not to be installed"),
    _one(PROGRAM, rf"^\s*Install ({_NAME}) and try again"),
    _one(PROGRAM, rf"\b({_NAME}) binary is required\b"),
    _one(PROGRAM, rf"\b({_NAME}) probably not installed"),
    _one(PROGRAM, r"\brequires (pkg-config) unless"),
    _one(PROGRAM, rf"^\s*'({_NAME})' not found\.?\s*$"),
    _one(PROGRAM, rf"\bProgram '?({_NAME}?)'? not found"),
    _one(PROGRAM, rf"Command '({_NAME}) [^']{{0,500}}' returned non-zero exit status 127"),
    _one(PROGRAM, rf"exec: \"({_NAME})\": executable file not found"),
    # Toolchains a -dev package never brings.
    _one(TOOLCHAIN, r"can't find (Rust) compiler"),
    _one(TOOLCHAIN, r"^\s*(Rust) not found, installing into a temporary directory"),
    _one(TOOLCHAIN, r"Cargo, the (Rust) package manager, is not installed"),
    _one(TOOLCHAIN, r"\brequires (rust)c [\d.]{1,20} or newer"),
    _one(TOOLCHAIN, r"\b(rust)c [\d.]{1,20} is not supported by the following packages"),
    _one(TOOLCHAIN, r"No (Fortran) compiler found"),
    _one(TOOLCHAIN, r"Could not locate executable g?(fortran)\b"),
    _one(TOOLCHAIN, r"Unknown compiler\(s\): \[\['g?(fortran)'"),
    # A build requirement pip could not find on the index.
    _one(DISTRIBUTION, r"No matching distribution found for ([^\s;]{1,200})"),
    # Python modules the build imports (installed from the index, not from Debian).
    _one(PYTHON_MODULE, r"ModuleNotFoundError: No module named '([A-Za-z0-9_.]{1,100})'"),
    _one(PYTHON_MODULE, r"^\s*ImportError: No module named '?([A-Za-z0-9_.]{1,100})'?\s*$"),
    # Free text that names only a library.
    _names(
        VAGUE,
        r"make sure the ([A-Za-z0-9_.+ ,-]{1,100}?) development packages? (?:are|is) installed",
    ),
    _one(VAGUE, rf"You need to install ({_NAME}) development (?:headers|files|package)"),
    _one(VAGUE, rf"\berror: ({_NAME}) is not installed(?: or not in (?:the )?path)?"),
    _one(VAGUE, rf"headers or library files could not be found for ({_NAME}),"),
    _one(VAGUE, rf"\bdid not find ({_NAME})(?: version \d+)? (?:headers|librar(?:y|ies))\b"),
    _one(VAGUE, rf"\b({_NAME}) (?:library|development headers|headers) (?:is|are) required\b"),
    _one(
        VAGUE, rf"configure: error: (?:lib)?({_NAME}) (?:library )?(?:is )?(?:required|not found)"
    ),
]

# The network failing mid-build: worth another attempt later, not a repair.
_TRANSIENT = re.compile(
    r"Temporary failure in name resolution|Connection (?:reset|refused) by peer"
    r"|Read timed out|ConnectTimeoutError|RemoteDisconnected|Could not fetch URL"
    r"|No space left on device"
)
# A source the build fetches by itself (crates.io, a toolchain download) is out of reach:
# no package fixes that, and retrying will not either.
_UNREACHABLE = re.compile(
    r"failed to get `[^`]{1,200}` as a dependency|failed to (?:download|load source) "
    r"|Could not resolve host: (?!pypi\.org|files\.pythonhosted\.org)([A-Za-z0-9.-]{1,200})"
    r"|Downloading rustup-init from (\S{1,300})"
    # urllib3 (conan, a setup.py's own download) failing to look a host up for good
    r"|Failed to resolve '(?!pypi\.org'|files\.pythonhosted\.org')([A-Za-z0-9.-]{1,200})'"
)
# autoconf: a run of failed checks ("checking for bzlib.h... no", "checking for
# BZ2_bzBuffToBuffCompress in -lbz2... no") right before "configure: error:" is what it
# stopped for; a check that failed earlier, followed by one that did not, was optional.
_AUTOCONF_CHECK = re.compile(r"^\s*checking .{1,300}?\.\.\. ")
_AUTOCONF_MISSING = (
    (
        HEADER,
        re.compile(
            rf"^\s*checking (?:for )?({_HEADER_FILE})(?: usability| presence)?\.\.\. no\s*$"
        ),
    ),
    (LIBRARY, re.compile(rf"^\s*checking for \S{{1,200}} in -l({_NAME})\.\.\. no\s*$")),
)
_AUTOCONF_ERROR = re.compile(r"^\s*configure: error: ")
# What best says a build failed when nothing above explains it.
_COMPILER_ERROR = re.compile(r"^\s*\S{1,300}:\d+:(?:\d+:)? (?:fatal )?error: .")
_EXCEPTION = re.compile(
    r"^\s*(?:[A-Za-z_][A-Za-z0-9_.]{0,100})?(?:Error|Exception): .|^ERROR: (?!Failed)"
    r"|^\s*error: (?!command ')"
)
_PIP_NOISE = ("subprocess-exited-with-error", "metadata-generation-failed", "Failed to build")

# A program with this name is a toolchain: the fix is a compiler, not a -dev package.
_PROGRAM_TOOLCHAINS = {"rustc": "Rust", "cargo": "Rust", "gfortran": "fortran", "go": "go"}


def _normalized(kind: str, name: str) -> tuple[str, str]:
    name = name.strip().strip("'\".,:;")
    if kind == PROGRAM and name == "not found":  # meson's "Pkg-config for machine … not found"
        name = "pkg-config"
    if kind == PROGRAM and name in _PROGRAM_TOOLCHAINS:
        return TOOLCHAIN, _PROGRAM_TOOLCHAINS[name].lower()
    if kind == TOOLCHAIN:
        name = name.lower()
    return kind, name


def find_problems(lines: Iterable[str]) -> list[Problem]:
    """The problems a failed log shows, in the order they first appear (one per kind and
    name). Only the tail of a long log is read."""
    tail = list(lines)[-TAIL_LINES:]
    found: dict[str, Problem] = {}
    transient: Problem | None = None
    fallback: Problem | None = None
    failed_checks: list[Problem] = []
    for number, raw in enumerate(tail, start=1):
        line = raw.rstrip("\n")[:MAX_LINE]
        if _AUTOCONF_CHECK.search(line):
            missing = _autoconf_missing(line, number)
            failed_checks = [*failed_checks, missing] if missing else []
        elif _AUTOCONF_ERROR.search(line):
            for problem in failed_checks:
                found.setdefault(problem.key, problem)
            failed_checks = []
        for matcher in _MATCHERS:
            for kind, name in matcher(line):
                kind, name = _normalized(kind, name)
                if not name:
                    continue
                problem = Problem(kind, name, line.strip(), number)
                found.setdefault(problem.key, problem)
        if transient is None and _TRANSIENT.search(line):
            transient = Problem(TRANSIENT, "network", line.strip(), number)
        if _UNREACHABLE.search(line):
            problem = Problem(UNREACHABLE, "network", line.strip(), number)
            found.setdefault(problem.key, problem)
        if (
            fallback is None
            and not any(noise in line for noise in _PIP_NOISE)
            and (_COMPILER_ERROR.search(line) or _EXCEPTION.search(line))
        ):
            fallback = Problem(BUILD_ERROR, "unidentified", line.strip(), number)
    if transient is not None and all(p.kind == DISTRIBUTION for p in found.values()):
        return [transient]  # pip found nothing because the network failed
    if found:
        return list(found.values())
    return [fallback] if fallback is not None else []


def _autoconf_missing(line: str, number: int) -> Problem | None:
    for kind, pattern in _AUTOCONF_MISSING:
        found = pattern.search(line)
        if found:
            return Problem(kind, found.group(1), line.strip(), number)
    return None


_INCLUDE_DIR = re.compile(r"(?:^|\s|')-I(/[A-Za-z0-9_.+/-]{1,300})")


def include_dirs(lines: Iterable[str]) -> frozenset[str]:
    """The absolute ``-I`` folders the build's compile lines name."""
    found: set[str] = set()
    for line in list(lines)[-TAIL_LINES:]:
        found.update(m.rstrip("/") for m in _INCLUDE_DIR.findall(line[:MAX_LINE]))
    return frozenset(found)
