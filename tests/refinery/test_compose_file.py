"""compose.yml describes the production stack and feeds the app the settings it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yml").read_text())
    return loaded


def test_the_stack_has_a_database_broker_object_store_web_server_and_worker():
    services = _compose()["services"]
    assert {"postgres", "redis", "minio", "web", "worker"} <= set(services)
    assert services["worker"]["command"] == ["python", "manage.py", "qcluster"]


def test_web_and_worker_use_postgres_redis_and_the_object_store():
    services = _compose()["services"]
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["OBJECT_STORE_BUCKET"] == "refinery"
        assert "WORKER_TOKEN" in env


def test_the_image_the_stack_builds_exists():
    build = _compose()["services"]["migrate"]["build"]
    assert (ROOT / build["dockerfile"]).is_file()
