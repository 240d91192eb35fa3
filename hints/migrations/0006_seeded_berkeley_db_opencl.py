"""Seeded catalog, continued (and the autotools entry's pattern widened).

Berkeley DB: bsddb3's setup.py looks for db.h in its own list of folders and says only
"Can't find a local Berkeley DB installation": no file, no tool, nothing the Contents index
could be asked about. Debian's Berkeley DB is libdb-dev.

OpenCL: CMake's own FindOpenCL wants a header and a library that Debian ships in two
packages (the Khronos headers, and the ICD loader's libOpenCL.so); the log names only
"OpenCL", and other packages' copies of the find module are no help."""

from django.db import migrations

from hints.seeding import seed_hints

PRESET = "debian-bookworm"

SEEDED = [
    {
        "name": "Berkeley DB",
        "description": "bsddb3 names Berkeley DB only in prose; its headers and library "
        "are libdb-dev (version 5.3 on bookworm).",
        "pattern": r"Can't find a local Berkeley DB installation",
        "recipes": [{"type": "system_packages", "packages": ["libdb-dev"]}],
    },
    {
        # 0004's entry, its pattern widened to a setup.py that spawns autoreconf (pyjq).
        "name": "autotools: autoreconf and friends",
        "description": "A bundled library regenerated with autoreconf needs autoconf, "
        "automake and libtool together (aclocal is an alternative of automake).",
        "pattern": r"(?:autoreconf|aclocal|automake|libtoolize)(?:-[\d.]+)?: (?:command )?not found"
        r"|Can't exec \"(?:aclocal|autopoint|libtoolize)\""
        r"|No such file or directory: '(?:autoreconf|aclocal|automake|libtoolize)'",
        "recipes": [
            {"type": "system_packages", "packages": ["autoconf", "automake", "libtool"]}
        ],
    },
    {
        "name": "OpenCL (CMake)",
        "description": "FindOpenCL needs CL/cl.h (opencl-c-headers) and libOpenCL.so "
        "(ocl-icd-opencl-dev) together.",
        "pattern": r"Could NOT find OpenCL\b",
        "recipes": [
            {"type": "system_packages", "packages": ["ocl-icd-opencl-dev", "opencl-c-headers"]}
        ],
    },
]


class Migration(migrations.Migration):
    dependencies = [("hints", "0005_seeded_netcdf")]
    operations = [seed_hints(PRESET, SEEDED)]
