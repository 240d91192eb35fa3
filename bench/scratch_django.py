"""Django for a benchmark, in a scratch directory of its own (database, storage, var/)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(prefix: str) -> Path:
    """Point settings at a fresh scratch directory and set Django up; returns the directory.

    A DATABASE_URL already in the environment is kept (to benchmark on Postgres)."""
    sys.path.insert(0, str(ROOT))
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'bench.sqlite3'}")
    os.environ["VAR_DIR"] = str(scratch / "var")
    os.environ["STORAGE_ROOT"] = str(scratch / "storage")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refinery.settings")
    import django

    django.setup()
    return scratch
