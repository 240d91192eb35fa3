"""Liveness, readiness and the configuration view."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_health_answers_anyone(client):
    assert client.get("/api/health").json() == {"status": "ok"}


def test_ready_checks_the_database_the_broker_and_storage(client, storage_dir, settings):
    settings.RUNNER = "local"
    body = client.get("/api/ready").json()
    assert body["ready"] is True
    assert set(body["checks"]) == {"database", "redis", "storage"}
    assert body["checks"]["database"] == {"ok": True, "detail": "postgresql"}


def test_ready_is_503_and_names_the_check_when_storage_cannot_be_written(
    client, settings, tmp_path
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": blocker / "storage"},
        },
    }
    response = client.get("/api/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"]["storage"]["ok"] is False
    assert body["checks"]["storage"]["detail"].startswith("cannot write")
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.podman
def test_ready_checks_podman_when_builds_run_in_containers(client, storage_dir, settings):
    settings.RUNNER = "podman"
    checks = client.get("/api/ready").json()["checks"]
    assert checks["podman"]["ok"] is True
    assert checks["podman"]["detail"].startswith("runtime runc")


def test_the_config_view_shows_the_setup_and_never_a_secret(admin_client, settings):
    settings.WORKER_TOKEN = "sup3r-secret-token"
    settings.REDIS_URL = "redis://:hunter2@127.0.0.1:6379/0"
    settings.INDEX_URL = "https://reader:s3cret@index.example/simple/"
    settings.UPGRADE_STRATEGY = "eager"
    response = admin_client.get("/api/config")
    assert response.status_code == 200
    body = response.json()
    assert body["planning"]["strategy"] == "eager"
    assert body["planning"]["index_url"] == "https://reader:***@index.example/simple/"
    assert body["environment"]["broker"] == "redis://:***@127.0.0.1:6379/0"
    assert body["environment"]["worker_token_set"] is True
    assert body["target"]["platform_tag"] == settings.PLATFORM_TAG
    text = response.content.decode()
    for secret in ("sup3r-secret-token", "hunter2", "s3cret", settings.SECRET_KEY):
        assert secret not in text


def test_the_config_view_is_for_readers_and_open_only_with_the_reads(client, settings):
    settings.WORKER_TOKEN = "t0ken"
    settings.API_READS_OPEN = True
    assert client.get("/api/config").status_code == 200
    settings.API_READS_OPEN = False
    refused = client.get("/api/config")
    assert refused.status_code == 401
    assert "X-Worker-Token" in refused.json()["error"]
    assert client.get("/api/config", HTTP_X_WORKER_TOKEN="t0ken").status_code == 200
