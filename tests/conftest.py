from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.special import RunPython
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from hints.contents import ContentsIndex, build_index
from refinery import runtime_settings

# Real lines of bookworm's Contents files, enough for the repair tests' lookups.
CONTENTS_EXCERPTS = Path(__file__).resolve().parent / "hints" / "contents"


@pytest.fixture(autouse=True)
def storage_dir(settings, tmp_path: Path) -> Path:
    """Filesystem storage in a fresh folder for every test: a test sees exactly what it
    stored, and none writes into the checkout's ``var/storage``, which ``make run`` serves."""
    root = tmp_path / "storage"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root},
        },
    }
    return root


def one_line_refusal(response: Any) -> bool:
    """A 4xx whose body is ``{"error": ...}``: one line, no traceback, no server path."""
    error = response.json().get("error", "")
    return (
        400 <= response.status_code < 500
        and bool(error)
        and "\n" not in error
        and "Traceback" not in error
        and "/tmp/" not in error
    )


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def queued_tasks() -> list[dict[str, Any]]:
    """Tasks waiting in the django-q2 ORM broker: what the cluster would run next."""
    return [SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("id")]


@pytest.fixture(autouse=True)
def fresh_runtime_settings() -> Iterator[None]:
    """Runtime settings are cached per process; a test's overrides roll back with its
    transaction, so no test may see another's cached copy."""
    runtime_settings.invalidate()
    yield
    runtime_settings.invalidate()


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """API throttle counters live in the cache: each test starts with none."""
    cache.clear()


WORKER_TOKEN = "w0rker-t0ken"


@pytest.fixture
def worker_api(settings) -> APIClient:
    """An API client that is a worker (X-Worker-Token)."""
    settings.WORKER_TOKEN = WORKER_TOKEN
    client = APIClient()
    client.credentials(HTTP_X_WORKER_TOKEN=WORKER_TOKEN)
    return client


@pytest.fixture
def staff_api(db) -> APIClient:
    """An API client for an operator: a staff user's API token (no session, so no CSRF)."""
    user = User.objects.create_user("operator", password="x", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def automation_api(db) -> APIClient:
    """An API client for automation: a non-staff user's API token."""
    user = User.objects.create_user("ci-bot", password="x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture(autouse=True)
def index_pages(settings, tmp_path: Path) -> Path:
    """Each test publishes its simple pages into its own folder."""
    pages = tmp_path / "index-pages"
    settings.INDEX_PAGES_DIR = pages
    return pages


@pytest.fixture
def start_refinery(settings, storage_dir: Path, index_pages: Path, tmp_path: Path):
    """Starts the real refinery (``manage.py serve``: uvicorn with the index fast path, and
    with ``cluster=True`` the django-q2 cluster too) in a subprocess on the test database and
    this test's storage; returns its base URL. Stopped at the end of the test.

    Data must be committed to be seen: use ``django_db(transaction=True)``."""
    servers: list[subprocess.Popen[bytes]] = []

    def start(
        *,
        cluster: bool = False,
        env: dict[str, str] | None = None,
        port: int | None = None,
        workers: int = 1,
    ) -> str:
        db = connection.settings_dict
        if connection.vendor == "postgresql":
            database_url = (
                f"postgres://{db['USER'] or 'root'}@{db['HOST'] or '127.0.0.1'}:"
                f"{db['PORT'] or 5432}/{db['NAME']}"
            )
        else:
            database_url = f"sqlite:///{db['NAME']}"
        if port is None:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "VAR_DIR": str(tmp_path / "server-var"),
            "STORAGE_ROOT": str(storage_dir),
            "INDEX_PAGES_DIR": str(index_pages),
            "CONTENTS_INDEX_DIR": str(settings.CONTENTS_INDEX_DIR),
            "PYTHON_VERSION": settings.PYTHON_VERSION,
            "PLATFORM_TAG": settings.PLATFORM_TAG,
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        argv = [
            sys.executable,
            "manage.py",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        server = subprocess.Popen(
            argv if cluster else [*argv, "--no-cluster"],
            cwd=Path(__file__).resolve().parent.parent,
            env=environment,
        )
        servers.append(server)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the refinery server did not start (exit {server.poll()})")
            time.sleep(0.2)

    start.servers = servers  # type: ignore[attr-defined]  # a test may stop one early
    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=60)


@pytest.fixture
def live_refinery(start_refinery) -> str:
    """The web server alone; yields its base URL."""
    return str(start_refinery())


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Debian mirror on loopback holding the excerpted Contents files."""
    root = tmp_path_factory.mktemp("mirror")
    dists = root / "dists" / "bookworm" / "main"
    dists.mkdir(parents=True)
    for flavour in ("amd64", "all"):
        source = (CONTENTS_EXCERPTS / f"Contents-{flavour}").read_bytes()
        (dists / f"Contents-{flavour}.gz").write_bytes(gzip.compress(source))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def small_index(mirror: str, tmp_path_factory: pytest.TempPathFactory) -> ContentsIndex:
    path = tmp_path_factory.mktemp("index") / "debian-bookworm-amd64.sqlite3"
    build_index(mirror, "bookworm", "amd64", path)
    return ContentsIndex(path)


@pytest.fixture
def contents_dir(settings, small_index: ContentsIndex, tmp_path: Path) -> Path:
    """The small index where repairs look for the debian-bookworm amd64 one."""
    directory = tmp_path / "contents"
    directory.mkdir()
    shutil.copyfile(small_index.path, directory / "debian-bookworm-amd64.sqlite3")
    settings.CONTENTS_INDEX_DIR = directory
    return directory


@pytest.fixture
def seeded_catalog(db) -> None:
    """The hint catalog the migrations seed: a transactional test before this one flushed
    every table, the seeded rows included, so they are put back the way the migrations did."""
    migrations = MigrationLoader(None, load=True).disk_migrations
    for _app, name in sorted(key for key in migrations if key[0] == "hints"):
        for operation in migrations[("hints", name)].operations:
            if isinstance(operation, RunPython):
                # The models as they are now: the seeding migrations came after the last
                # change to Hint's table.
                operation.code(cast(Any, django_apps), None)
