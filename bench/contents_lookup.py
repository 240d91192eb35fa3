"""How fast the Contents index answers (the goal: a lookup in 50 ms or less).

Runs the lookups repairs make for the corpus's problems against the real index of a
preset's suite (``manage.py contents_index`` builds it) and prints p50/p95/max per kind.

    .venv/bin/python bench/contents_lookup.py [--index var/contents/debian-bookworm-amd64.sqlite3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hints.contents import ContentsIndex  # noqa: E402

LOOKUPS = {
    "header": ["ffi.h", "libxml/xmlversion.h", "sasl/sasl.h", "gssapi/gssapi.h", "portaudio.h"],
    "pkgconfig": ["mysqlclient", "xmlsec1", "cairo", "dbus-1", "glib-2.0"],
    "library": ["pq", "ffi", "cap", "xslt", "z"],
    "program": ["pg_config", "curl-config", "krb5-config", "swig", "pkg-config"],
    "cmake_package": ["Boost", "Eigen3", "OpenSSL", "ZLIB", "Qt5"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default=str(ROOT / "var/contents/debian-bookworm-amd64.sqlite3"))
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    index = ContentsIndex(Path(args.index))
    print(f"{'kind':14} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for kind, names in LOOKUPS.items():
        lookup = getattr(index, kind)
        times = []
        for _ in range(args.repeat):
            for name in names:
                started = time.perf_counter()
                lookup(name)
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95)]
        print(f"{kind:14} {statistics.median(times):8.3f} {p95:8.3f} {times[-1]:8.3f}")


if __name__ == "__main__":
    main()
