"""Source distributions for tests, as build backends would find them."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

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


def make_sdist(directory: Path, filename: str, files: dict[str, bytes]) -> Path:
    path = directory / filename
    with tarfile.open(path, "w:gz") as archive:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
