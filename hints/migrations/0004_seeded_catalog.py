"""The seeded hint catalog: what a failed log alone cannot tell (which package ships a
config tool or a library a message only implies, which companions a tool needs), for the
debian-bookworm builder. Inference from the Contents index carries the rest; these are
editable in the admin like any hint (source=seeded)."""

from django.db import migrations

from hints.seeding import seed_hints

PRESET = "debian-bookworm"

SEEDED = [
    {
        "name": "mysqlclient: MySQL/MariaDB client library",
        "description": "mysqlclient asks pkg-config for mysqlclient or mariadb, or runs "
        "mysql_config; on Debian both come from default-libmysqlclient-dev (MariaDB).",
        "pattern": r"Can not find valid pkg-config name|mysql_config(?: executable)? not found"
        r"|mysql_config: (?:command )?not found|No such file or directory: 'mysql_config'",
        "recipes": [
            {"type": "system_packages", "packages": ["default-libmysqlclient-dev", "pkgconf"]}
        ],
    },
    {
        "name": "autotools: autoreconf and friends",
        "description": "A bundled library regenerated with autoreconf needs autoconf, "
        "automake and libtool together (aclocal is an alternative of automake).",
        "pattern": r"(?:autoreconf|aclocal|automake|libtoolize)(?:-[\d.]+)?: (?:command )?not found"
        r"|Can't exec \"(?:aclocal|autopoint|libtoolize)\"",
        "recipes": [
            {"type": "system_packages", "packages": ["autoconf", "automake", "libtool"]}
        ],
    },
    {
        "name": "HDF5 from Debian",
        "description": "Debian's HDF5 is the serial flavour, found by pkg-config as "
        "hdf5-serial (h5py and tables look for hdf5).",
        "pattern": r"Unable to load dependency HDF5|Could not find a local HDF5 installation"
        r"|HDF5 library version not found|hdf5\.h: No such file",
        "recipes": [
            {"type": "system_packages", "packages": ["libhdf5-dev", "pkgconf"]},
            {"type": "env", "vars": {"HDF5_PKGCONFIG_NAME": "hdf5-serial"}},
        ],
    },
    {
        "name": "BLAS and LAPACK",
        "description": "Numerical builds that find no BLAS/LAPACK get OpenBLAS (the default "
        "implementation), a Fortran compiler and pkg-config.",
        "pattern": r"No BLAS/LAPACK libraries found|Dependency \"?(?:OpenBLAS|openblas|lapack|blas)"
        r"\"? not found|Could not find (?:a )?(?:BLAS|LAPACK)|NOT found: (?:BLAS|LAPACK)",
        "recipes": [
            {
                "type": "system_packages",
                "packages": ["libopenblas-dev", "liblapack-dev", "gfortran", "pkgconf"],
            }
        ],
    },
    {
        "name": "libxml2 and libxslt",
        "description": "lxml and friends ask for 'the libxml2 and libxslt development "
        "packages': libxml2-dev and libxslt1-dev, found through xml2-config/xslt-config.",
        "pattern": r"libxml2 and libxslt development packages|xslt-config: (?:command )?not found"
        r"|No such file or directory: 'xslt-config'",
        "recipes": [{"type": "system_packages", "packages": ["libxml2-dev", "libxslt1-dev"]}],
    },
    {
        "name": "Pillow's image libraries",
        "description": "Pillow names a library only in prose; jpeg and zlib are required, "
        "the rest optional.",
        "pattern": r"headers or library files could not be found for (?:jpeg|zlib)",
        "recipes": [{"type": "system_packages", "packages": ["libjpeg-dev", "zlib1g-dev"]}],
    },
    {
        "name": "PROJ for pyproj",
        "description": "pyproj needs the proj program (proj-bin) and the library with its "
        "headers and data (libproj-dev); it names only the program.",
        "pattern": r"proj executable not found|PROJ_DIR variable",
        "recipes": [{"type": "system_packages", "packages": ["proj-bin", "libproj-dev"]}],
    },
    {
        "name": "PostgreSQL client library",
        "description": "pg_config is in libpq-dev and in postgresql-common; only libpq-dev "
        "also has the headers and library a build links against.",
        "pattern": r"pg_config executable not found|pg_config: (?:command )?not found"
        r"|No such file or directory: 'pg_config'",
        "recipes": [{"type": "system_packages", "packages": ["libpq-dev"]}],
    },
    {
        "name": "Kerberos (MIT)",
        "description": "krb5-config and the GSSAPI headers come from MIT Kerberos, the "
        "distribution's default, not Heimdal.",
        "pattern": r"krb5-config: (?:command )?not found|No such file or directory: 'krb5-config'"
        r"|Command 'krb5-config[^']*' returned non-zero exit status 127",
        "recipes": [{"type": "system_packages", "packages": ["libkrb5-dev"]}],
    },
    {
        "name": "Rust toolchain",
        "description": "Rust extensions need a newer compiler than bookworm's rustc: "
        "rustc-web and cargo-web.",
        "pattern": r"can't find Rust compiler|Cargo, the Rust package manager, is not installed"
        r"|Rust not found, installing into a temporary directory",
        "recipes": [{"type": "system_packages", "packages": ["rustc-web", "cargo-web"]}],
    },
    {
        "name": "Cython at build time",
        "description": "A setup.py that needs Cython but does not declare it.",
        "pattern": r"Cython is required|Cython (?:was )?not found|Please install Cython",
        "recipes": [{"type": "build_requires", "requirements": ["cython"]}],
    },
    {
        "name": "curl (OpenSSL flavour)",
        "description": "curl-config ships in three flavours; OpenSSL's is the default.",
        "pattern": r"Could not run curl-config|curl-config: (?:command )?not found"
        r"|No such file or directory: 'curl-config'",
        "recipes": [
            {"type": "system_packages", "packages": ["libcurl4-openssl-dev", "libssl-dev"]}
        ],
    },
]


class Migration(migrations.Migration):
    dependencies = [("hints", "0003_repair")]
    operations = [seed_hints(PRESET, SEEDED)]
