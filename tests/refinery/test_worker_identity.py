"""A worker is who its token says: each remote worker may have a token of its own, leases
are held under the token's name, and one worker cannot act on another's jobs by naming
itself after it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from builds.models import BuildJob
from refinery.models import WorkerToken
from tests.factories import BuildJobFactory, PlanFactory

pytestmark = pytest.mark.django_db


def _token(name: str, capsys) -> str:
    call_command("worker_token", "create", name)
    return str(capsys.readouterr().out).strip()


def _as(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_X_WORKER_TOKEN=key)
    return api


def _buildable() -> BuildJob:
    plan = PlanFactory(
        dag={
            "nodes": [
                {
                    "name": "demo",
                    "version": "1.0",
                    "action": "build",
                    "source": {
                        "kind": "sdist",
                        "url": "https://files.example/demo-1.0.tar.gz",
                        "sha256": "a" * 64,
                    },
                }
            ],
            "edges": [],
        }
    )
    return BuildJobFactory(name="demo", version="1.0", plan=plan, target=plan.target)


def test_a_worker_token_of_its_own_holds_leases_in_its_name(capsys):
    key = _token("s390x-1", capsys)
    job = _buildable()
    claimed = _as(key).post("/api/build-queue/pop?worker=host-a:42").json()["jobs"]
    assert [j["id"] for j in claimed] == [job.pk]
    job.refresh_from_db()
    assert job.lease_owner == "s390x-1/host-a:42"
    assert WorkerToken.objects.get(name="s390x-1").last_used_at is not None


def test_another_worker_naming_itself_the_same_cannot_report_on_the_job(capsys):
    first, second = _token("first", capsys), _token("second", capsys)
    job = _buildable()
    _as(first).post("/api/build-queue/pop?worker=same-name")
    body = {"job_id": job.pk, "worker": "same-name", "status": "failed", "reason": "build_error"}
    refused = _as(second).post("/api/builds/status", body, format="json")
    assert refused.status_code == 409
    assert "leased to first/same-name, not second/same-name" in refused.json()["error"]
    log = {"job_id": job.pk, "worker": "same-name", "attempt": 1, "seq": 0, "text": "x\n"}
    assert _as(second).post("/api/logs/stream", log, format="json").status_code == 409
    job.refresh_from_db()
    assert job.status == "leased"
    ok = _as(first).post("/api/builds/status", {**body, "status": "heartbeat"}, format="json")
    assert ok.json()["state"] == "ok"


def test_the_shared_token_is_one_identity_of_its_own(worker_api, capsys):
    own = _token("own", capsys)
    job = _buildable()
    worker_api.post("/api/build-queue/pop?worker=w")
    job.refresh_from_db()
    assert job.lease_owner == "worker/w"
    body = {"job_id": job.pk, "worker": "w", "status": "heartbeat"}
    assert _as(own).post("/api/builds/status", body, format="json").json()["state"] == "leased"


def test_a_revoked_token_is_refused(capsys):
    key = _token("gone", capsys)
    call_command("worker_token", "revoke", "gone")
    response = _as(key).post("/api/build-queue/pop?worker=w")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid worker token"}


def test_the_command_shows_a_key_once_and_keeps_only_its_digest(capsys):
    key = _token("digest-only", capsys)
    stored = WorkerToken.objects.get(name="digest-only")
    assert key not in stored.key_digest
    assert len(stored.key_digest) == 64
    call_command("worker_token", "list")
    listing = capsys.readouterr().out
    assert "digest-only\tactive\tnever used" in listing
    assert key not in listing
    with pytest.raises(CommandError, match="exists already"):
        call_command("worker_token", "create", "digest-only")
    with pytest.raises(CommandError, match="is not a worker name"):
        call_command("worker_token", "create", "Bad Name!")
    with pytest.raises(CommandError, match="the shared WORKER_TOKEN's identity"):
        call_command("worker_token", "create", "worker")
    with pytest.raises(CommandError, match="no active worker token named 'nope'"):
        call_command("worker_token", "revoke", "nope")
