"""The configuration an operator may see: what the refinery does and where it looks, never
a credential (passwords in URLs are masked, secrets are only said to be set or not)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection

from builds.health_checks import without_password
from refinery import runtime_settings


def public_config() -> dict[str, Any]:
    storage = settings.STORAGES["default"]
    options = storage.get("OPTIONS", {})
    s3 = storage["BACKEND"].endswith("S3Storage")
    return {
        "target": {
            "python_version": runtime_settings.value("python_version"),
            "platform_tag": runtime_settings.value("platform_tag"),
        },
        "planning": {
            "auto_plan": runtime_settings.value("auto_plan"),
            "local_planning": settings.LOCAL_PLANNING,
            "strategy": runtime_settings.value("upgrade_strategy"),
            "index_url": without_password(settings.INDEX_URL),
            "extra_index_urls": [without_password(u) for u in settings.EXTRA_INDEX_URL],
            "max_deps": settings.MAX_DEPS,
            "plan_pool_size": runtime_settings.value("plan_pool_size"),
        },
        "building": {
            "auto_build": runtime_settings.value("auto_build"),
            "runner": settings.RUNNER,
            "build_pool_size": runtime_settings.value("build_pool_size"),
            "container_preset": settings.CONTAINER_PRESET,
            "container_image": settings.CONTAINER_IMAGE,
            "runner_timeout_sec": settings.RUNNER_TIMEOUT_SEC,
            "runner_memory": settings.RUNNER_MEMORY,
            "runner_cpus": settings.RUNNER_CPUS,
            "runner_pids_limit": settings.RUNNER_PIDS_LIMIT,
            "runner_disk": settings.RUNNER_DISK,
            "runner_read_only_root": settings.RUNNER_READ_ONLY_ROOT,
            "runner_network": settings.RUNNER_NETWORK,
            "requeue_on_failure": settings.REQUEUE_ON_FAILURE,
            "max_requeue_attempts": settings.MAX_REQUEUE_ATTEMPTS,
            "worker_run_cmd": bool(settings.WORKER_RUN_CMD),
        },
        "storage": {
            "backend": "s3" if s3 else "filesystem",
            "bucket": options.get("bucket_name") if s3 else None,
            "endpoint": options.get("endpoint_url") if s3 else None,
        },
        "environment": {
            "database": connection.vendor,
            "broker": without_password(settings.REDIS_URL) if settings.REDIS_URL else "orm",
            "public_url": settings.PUBLIC_URL,
            "worker_token_set": bool(settings.WORKER_TOKEN),
            "debug": settings.DEBUG,
        },
    }
