"""From a problem to the Debian packages that could fix it, best first.

Lookups go to the Contents index of the builder's suite and architecture
(``hints.contents``); ranking follows rules a packager would apply, each tested:

1. the path the build asked for, exactly (``usr/include/ffi.h`` or under the
   architecture's include folder) before the same name deeper in another tree;
2. ``-dev`` packages (headers, ``.so`` links and ``.pc`` files live there);
3. the distribution's default implementation over its alternatives (MIT Kerberos over
   Heimdal, OpenSSL over GnuTLS/NSS/wolfSSL/Botan, rustc-web over the older rustc);
4. a package named like what is missing, or like the project being built;
5. the shorter name, then the alphabet (stable).

Packages already in the builder image are never candidates: installing them again
changes nothing. Some tools need company a ``-dev`` package does not bring
(``pkg-config`` for a ``.pc`` file): those are added as companions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from hints.contents import FileHit
from hints.problems import (
    CMAKE,
    HEADER,
    LIBRARY,
    PKGCONFIG,
    PROGRAM,
    TOOLCHAIN,
    VAGUE,
    Problem,
)

# The distribution's choice where several packages ship the same file.
DEFAULTS = frozenset(
    {
        "libkrb5-dev",
        "libssl-dev",
        "libcurl4-openssl-dev",
        "rustc-web",
        "cargo-web",
        "golang-go",
        "libpq-dev",
        "libjpeg62-turbo-dev",
        "default-libmysqlclient-dev",
        "libopenblas-dev",
        "libldap-dev",
        "libffi-dev",
        "libsqlite3-dev",
    }
)
# Alternatives and look-alikes that are never the first choice.
_DISFAVOURED = re.compile(
    r"heimdal|wolfssl|botan|libressl|nss-dev|gnutls|sqlcipher|pypy|mingw|-cross$"
    r"|-dbg$|-dbgsym$|^lib(?:32|64|x32)|-i386$|-amd64$|^gcc-\d|^g\+\+-\d|-doc$"
)
# Toolchains by the name problems give them: the packages that provide them, in order.
TOOLCHAINS = {
    "rust": ("rustc-web", "cargo-web"),
    "fortran": ("gfortran",),
    "go": ("golang-go",),
}
# CMake find modules that ship with CMake itself: what each one looks for.
_FIND_MODULES = {
    "pkgconfig": (PROGRAM, "pkg-config"),
    "openssl": (HEADER, "openssl/ssl.h"),
    "zlib": (HEADER, "zlib.h"),
    "curl": (HEADER, "curl/curl.h"),
    "bzip2": (HEADER, "bzlib.h"),
    "libxml2": (HEADER, "libxml/xmlversion.h"),
    "png": (HEADER, "png.h"),
    "jpeg": (HEADER, "jpeglib.h"),
    "tiff": (HEADER, "tiffio.h"),
    "expat": (HEADER, "expat.h"),
    "freetype": (HEADER, "ft2build.h"),
    "sqlite3": (HEADER, "sqlite3.h"),
    "libxslt": (HEADER, "libxslt/xslt.h"),
    "gdal": (PROGRAM, "gdal-config"),
    "blas": (PKGCONFIG, "openblas"),
    "lapack": (PKGCONFIG, "lapack"),
    "hdf5": (PKGCONFIG, "hdf5"),
    "gsl": (PKGCONFIG, "gsl"),
    "swig": (PROGRAM, "swig"),
    "fftw3": (HEADER, "fftw3.h"),
    "opencl": (HEADER, "CL/cl.h"),  # and libOpenCL.so: the catalog's "OpenCL (CMake)" hint
}
# What a -dev package does not bring along but the problem shows the build uses.
_COMPANIONS = {PKGCONFIG: "pkgconf"}


class Index(Protocol):
    def header(self, header: str) -> list[FileHit]: ...
    def pkgconfig(self, module: str) -> list[FileHit]: ...
    def library(self, name: str) -> list[FileHit]: ...
    def program(self, name: str) -> list[FileHit]: ...
    def cmake_package(self, name: str) -> list[FileHit]: ...
    def has_package(self, name: str) -> bool: ...


@dataclass(frozen=True)
class Candidate:
    package: str
    path: str  # the file that makes it a candidate ("" when chosen by name)
    rank: tuple[int, ...] = field(compare=False)


@dataclass
class Candidates:
    """What could fix one problem: ranked packages and companions that go with any."""

    problem: Problem
    ranked: list[Candidate]
    companions: list[str] = field(default_factory=list)

    @property
    def packages(self) -> list[str]:
        return [candidate.package for candidate in self.ranked]


def _stem(name: str) -> str:
    """``libxml2`` -> ``xml2``; ``portaudio.h`` -> ``portaudio``; ``foo/bar.h`` -> ``bar``."""
    base = name.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    return base[3:] if base.startswith("lib") and len(base) > 3 else base


def _words(text: str) -> set[str]:
    return {word for word in re.split(r"[^a-z0-9]+", text.lower()) if len(word) > 1}


def _rank(hit: FileHit, problem: Problem, project: str, direct: bool) -> tuple[int, ...]:
    package = hit.package
    names = {_stem(problem.name), *(_words(project) - {"python", "py"})}
    named_like = any(name and name in package for name in names)
    return (
        0 if direct else 1,
        0 if package.endswith("-dev") or problem.kind in (PROGRAM, TOOLCHAIN) else 1,
        0 if package in DEFAULTS else (2 if _DISFAVOURED.search(package) else 1),
        0 if named_like else 1,
        len(package),
    )


def _direct(hit: FileHit, problem: Problem) -> bool:
    """The file where a default search finds it, not the same name somewhere deeper."""
    path = hit.path
    if problem.kind == HEADER:
        relative = path.removeprefix("usr/include/")
        folder, _, rest = relative.partition("/")
        # The architecture's own include folder (x86_64-linux-gnu/ffi.h) is searched too.
        return relative == problem.name or ("-linux-gnu" in folder and rest == problem.name)
    if problem.kind == PROGRAM:
        return path.startswith("usr/bin/")
    if problem.kind == LIBRARY:
        return path.endswith(".so")
    return True


def _hits(problem: Problem, index: Index) -> list[FileHit]:
    if problem.kind == HEADER:
        return index.header(problem.name)
    if problem.kind == PKGCONFIG:
        return index.pkgconfig(problem.name)
    if problem.kind == LIBRARY:
        return index.library(problem.name)
    if problem.kind == PROGRAM:
        return index.program(problem.name)
    return []


def _by_name(names: list[str], index: Index, why: str) -> list[FileHit]:
    return [FileHit(why, name) for name in names if index.has_package(name)]


def _vague(problem: Problem, index: Index) -> list[FileHit]:
    """A library named in prose: its pkg-config module, its header, its link library, or
    a package named after it (``libxslt`` -> ``libxslt1-dev``)."""
    name = problem.name.lower()
    stem = _stem(name)
    hits: list[FileHit] = []
    for module in dict.fromkeys((name, f"lib{stem}", stem)):
        hits += index.pkgconfig(module)
    for header in dict.fromkeys((f"{stem}.h", f"{name}.h", f"lib{stem}.h", f"{stem}/{stem}.h")):
        hits += index.header(header)
    hits += index.library(stem)
    hits += [hit for hit in index.program(name) if hit.path.startswith("usr/bin/")]
    named = [f"lib{stem}-dev", f"{stem}-dev", *(f"lib{stem}{n}-dev" for n in ("1", "2", "3"))]
    hits += _by_name(named, index, f"package named after {problem.name}")
    return hits


def _plausible(hit: FileHit, problem: Problem, direct: bool, include_dirs: frozenset[str]) -> bool:
    """A header found only deeper than asked for fixes the build when the build searches
    that folder (``-I/usr/include/hunspell`` in its compile line) or asked for a path with
    folders, which a config tool then points to; never in an alternative's tree (pypy's)."""
    if problem.kind != HEADER or direct:
        return True
    folder = "/" + hit.path[: -len(problem.name)].rstrip("/")
    if "/" not in problem.name:
        return folder in include_dirs
    return not _DISFAVOURED.search(hit.package)


def candidates_for(
    problem: Problem,
    index: Index,
    *,
    project: str = "",
    installed: frozenset[str] = frozenset(),
    include_dirs: frozenset[str] = frozenset(),
) -> Candidates:
    """The packages that could fix ``problem``, best first, none already installed.
    ``include_dirs`` are the ``-I`` folders the build's compile lines searched."""
    if problem.kind == TOOLCHAIN:
        packages = TOOLCHAINS.get(problem.name, ())
        hits = _by_name(list(packages), index, f"the {problem.name} toolchain")
        chosen = [Candidate(h.package, "", (i,)) for i, h in enumerate(hits)]
        if chosen:  # a toolchain is all its packages at once: one candidate listing them
            return Candidates(problem, chosen[:1], [c.package for c in chosen[1:]])
        return Candidates(problem, [])
    if problem.kind == CMAKE:
        hits = index.cmake_package(problem.name)
        module = _FIND_MODULES.get(problem.name.lower())
        if not hits and module is not None:
            return candidates_for(
                Problem(module[0], module[1], problem.evidence, problem.line),
                index,
                project=project,
                installed=installed,
                include_dirs=include_dirs,
            )
        if not hits:
            hits = _vague(problem, index)
    elif problem.kind == VAGUE:
        hits = _vague(problem, index)
    else:
        hits = _hits(problem, index)
    best: dict[str, Candidate] = {}
    for hit in hits:
        direct = _direct(hit, problem)
        if hit.package in installed or not _plausible(hit, problem, direct, include_dirs):
            continue
        rank = _rank(hit, problem, project, direct)
        if hit.package not in best or rank < best[hit.package].rank:
            best[hit.package] = Candidate(hit.package, hit.path, rank)
    ranked = sorted(best.values(), key=lambda c: (c.rank, c.package))
    companion = _COMPANIONS.get(problem.kind)
    companions = [companion] if companion and companion not in installed else []
    return Candidates(problem, ranked, companions if ranked else [])
