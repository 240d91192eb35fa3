"""The API documents itself (OpenAPI 3 via drf-spectacular, Swagger UI from our own static
files), and a schemathesis run against the live server finds it true to the document."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db
# The schema, its viewer, and the catch-all that answers unknown paths with a JSON 404.
NOT_DOCUMENTED = {"api/schema", "api/docs", "api/^(?P<path>.*)$"}
OPEN_TO_ALL = {"/api/health", "/api/ready"}  # probes: no credentials, so no refusals


def _api_routes() -> set[str]:
    routes = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/"):
                routes.add(route)

    walk(get_resolver().url_patterns)
    return routes - NOT_DOCUMENTED


def _schema(tmp_path: Path) -> Any:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    return yaml.safe_load(out.read_text())


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    schema = _schema(tmp_path)
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["workerToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Worker-Token",
    }


def test_every_api_endpoint_is_documented_with_its_request_and_responses(tmp_path):
    paths = _schema(tmp_path)["paths"]
    documented = {
        re.sub(r"\{(\w+)\}", r"<str:\1>", path.lstrip("/").replace("{id}", "<int:pk>"))
        for path in paths
    }
    assert _api_routes() <= documented
    for path, operations in paths.items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert statuses & {"200", "201", "202", "204"}, f"{method} {path} documents no success"
            if path not in OPEN_TO_ALL:
                assert "403" in statuses, f"{method} {path} documents no refusal"


def test_swagger_ui_is_served_from_our_own_static_files(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "swagger-ui" in page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page.content.decode()
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json")
    assert schema.json()["info"]["title"] == "Wheel Refinery API"


def test_drf_refusals_answer_in_the_same_one_line_shape(client, settings):
    settings.WORKER_TOKEN = "t0ken"
    unauthenticated = client.post("/api/plans", "{}", content_type="application/json")
    assert unauthenticated.status_code == 401
    assert set(unauthenticated.json()) == {"error"}
    bad_json = client.post(
        "/api/plans", "{not json", content_type="application/json", HTTP_X_WORKER_TOKEN="t0ken"
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"].startswith("JSON parse error")


def test_submitting_a_plan_for_an_unknown_input_is_a_404_not_a_500(client, settings):
    settings.WORKER_TOKEN = "t0ken"
    response = client.post(
        "/api/plans",
        {
            "input_id": 424242,
            "worker": "w",
            "dag": {
                "nodes": [{"name": "six", "version": "1.0", "action": "cached", "source": {}}],
                "edges": [],
            },
        },
        content_type="application/json",
        HTTP_X_WORKER_TOKEN="t0ken",
    )
    assert response.status_code == 404
    assert response.json() == {"error": "input_id: pending input 424242 does not exist"}


# What a remote worker calls (builds/remote_queue.py, the remote plan worker): fuzzed with the
# worker's token; every other endpoint is fuzzed as staff. Each pass on every endpoint took
# twice as long, mostly on answers of 401.
WORKER_PATHS = (
    r"^/api/(build-queue/pop|builds/status|builds/\{id\}/wheel(house)?|logs/stream"
    r"|pending-inputs/(pop|status/\{id\})|plans)$"
)


def _schemathesis(
    base: str, workdir: Path, credential: str, *options: str
) -> subprocess.CompletedProcess[str]:
    """Runs in ``workdir``, where schemathesis reads its configuration and keeps its cache.
    The credential is configured for its OpenAPI security scheme: given only as a header,
    schemathesis also sends made-up values for the other schemes (a wrong X-Worker-Token is
    a 401), and those cases never reach the endpoint."""
    workdir.mkdir()
    (workdir / "schemathesis.toml").write_text(credential)
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{base}/api/schema",
            *options,
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--max-examples",
            "25",
            "--seed",
            "20261122",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_response_off_the_schema(
    start_refinery, tmp_path
):
    """Twice: as a worker (the endpoints a remote worker calls) and as staff with an API
    token (every other endpoint, writes included)."""
    staff = User.objects.create_user("fuzzer", password="x", is_staff=True)
    token = Token.objects.create(user=staff)
    base = start_refinery(env={"WORKER_TOKEN": "fuzz-token", "AUTO_PLAN": "false"})
    passes = (
        (
            tmp_path / "as-worker",
            '[auth.openapi.workerToken]\napi_key = "fuzz-token"\n',
            ("--include-path-regex", WORKER_PATHS),
        ),
        (
            tmp_path / "as-staff",
            f'[auth.openapi.bearerToken]\nbearer = "{token.key}"\n',
            ("--exclude-path-regex", WORKER_PATHS),
        ),
    )
    for workdir, credential, options in passes:
        run = _schemathesis(base, workdir, credential, *options)
        assert run.returncode == 0, run.stdout[-6000:]
        assert re.search(r"Selected: [1-9]", run.stdout), run.stdout[-6000:]
        # Every operation was reached with the credential (none answered only 401/403).
        assert "Authentication failed" not in run.stdout, run.stdout[-6000:]
        assert " passed" in run.stdout
