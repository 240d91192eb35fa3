"""Source distributions for tests, as build backends would find them."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

# A C extension against libyajl: Debian's libyajl-dev in the container, absent on the host.
PROBE_YAJL = {
    "probe_yajl-1.0/pyproject.toml": b"""[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "probe-yajl"
version = "1.0"
""",
    "probe_yajl-1.0/setup.py": b"""from setuptools import Extension, setup
setup(ext_modules=[Extension("probe_yajl", ["probe_yajl.c"], libraries=["yajl"])])
""",
    "probe_yajl-1.0/probe_yajl.c": b"""#include <Python.h>
#include <yajl/yajl_version.h>
static PyObject *version(PyObject *self, PyObject *args) { return PyLong_FromLong(yajl_version()); }
static PyMethodDef methods[] = {{"version", version, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "probe_yajl", NULL, -1, methods};
PyMODINIT_FUNC PyInit_probe_yajl(void) { return PyModule_Create(&module); }
""",
    "probe_yajl-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: probe-yajl\nVersion: 1.0\n",
}


def host_has_yajl() -> str:
    """Why PROBE_YAJL would build on this host (its headers or library are installed), or
    "" when it would not: tests that need it to fail here check this first."""
    for header in ("/usr/include/yajl/yajl_version.h", "/usr/local/include/yajl/yajl_version.h"):
        if Path(header).exists():
            return f"this host has {header}"
    return ""


def make_sdist(directory: Path, filename: str, files: dict[str, bytes]) -> Path:
    path = directory / filename
    with tarfile.open(path, "w:gz") as archive:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def sdist_node(name: str, version: str, url: str, sha256: str) -> dict[str, Any]:
    """A plan node that builds ``name==version`` from the sdist at ``url``."""
    return {
        "name": name,
        "version": version,
        "action": "build",
        "roles": ["runtime"],
        "source": {"kind": "sdist", "url": url, "sha256": sha256},
    }


def probe_yajl_node(directory: Path) -> dict[str, Any]:
    """The node of PROBE_YAJL, made into an sdist in ``directory``."""
    sdist = make_sdist(directory, "probe_yajl-1.0.tar.gz", PROBE_YAJL)
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    return sdist_node("probe-yajl", "1.0", sdist.as_uri(), digest)


def setuptools_sdist_node(
    directory: Path, name: str, setup_py: str, version: str = "1.0"
) -> dict[str, Any]:
    """The plan node of a small setuptools sdist with this ``setup.py`` (a module of the
    project's name beside it), made in ``directory``."""
    root = f"{name}-{version}"
    sdist = make_sdist(
        directory,
        f"{root}.tar.gz",
        {
            f"{root}/pyproject.toml": (
                '[build-system]\nrequires = ["setuptools>=61"]\n'
                'build-backend = "setuptools.build_meta"\n\n'
                f'[project]\nname = "{name}"\nversion = "{version}"\n'
            ).encode(),
            f"{root}/setup.py": setup_py.encode(),
            f"{root}/{name}.py": b"VALUE = 1\n",
            f"{root}/PKG-INFO": (
                f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            ).encode(),
        },
    )
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    return sdist_node(name, version, sdist.as_uri(), digest)


def slow_sdist_node(directory: Path, seconds: int, name: str = "slowbuild") -> dict[str, Any]:
    """A pure-Python sdist whose build sleeps ``seconds``: long enough to be killed or
    cancelled in the middle of."""
    setup_py = f"import time\nfrom setuptools import setup\ntime.sleep({seconds})\nsetup()\n"
    return setuptools_sdist_node(directory, name, setup_py)
