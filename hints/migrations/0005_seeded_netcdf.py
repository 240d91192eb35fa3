"""Seeded catalog, continued: netCDF-C's config tool. A build that looks for netCDF (the
netCDF4 bindings, say) asks nc-config first and otherwise searches the usual folders for
HDF5's headers, which Debian keeps apart (/usr/include/hdf5/serial): the log names only
HDF5, and installing it does not help. Debian's nc-config is in libnetcdf-dev, which
brings HDF5 along and tells the build where both are."""

from django.db import migrations

from hints.seeding import seed_hints

PRESET = "debian-bookworm"

SEEDED = [
    {
        "name": "netCDF: nc-config",
        "description": "nc-config (libnetcdf-dev) tells a netCDF build where netCDF-C and "
        "Debian's serial HDF5 are.",
        "pattern": r"nc-config: (?:command )?not found|did not find netCDF version 4 headers"
        r"|HDF5_DIR environment variable not set, checking some standard locations",
        "recipes": [{"type": "system_packages", "packages": ["libnetcdf-dev"]}],
    },
]


class Migration(migrations.Migration):
    dependencies = [("hints", "0004_seeded_catalog")]
    operations = [seed_hints(PRESET, SEEDED)]
