"""LOG_FORMAT=json: one JSON object per log line, with the request id (from X-Request-ID or
made up, echoed on the response) and the job a line was written for, so one build can be
followed across web, cluster and worker logs."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from refinery.lib import log_context
from refinery.lib.log_context import ContextFilter
from tests.factories import BuildJobFactory, PlanFactory
from tests.sdists import sdist_node

ROOT = Path(__file__).resolve().parents[2]


def test_json_logs_carry_the_request_id_of_the_request_that_wrote_them():
    script = (
        "import django, os;"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'refinery.settings'); django.setup();"
        "from django.test import Client;"
        "r = Client(HTTP_HOST='127.0.0.1')"
        ".get('/api/no-such-endpoint', HTTP_X_REQUEST_ID='trace-42');"
        "print('ECHOED', r['X-Request-ID'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "LOG_FORMAT": "json", "DATABASE_URL": "sqlite:///:memory:"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert "ECHOED trace-42" in done.stdout
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (not_found,) = [line for line in lines if line["logger"] == "django.request"]
    assert not_found["level"] == "WARNING"
    assert not_found["request_id"] == "trace-42"
    assert "Not Found" in not_found["message"]
    assert {"time", "process", "job_id"} <= set(not_found)


def test_a_bad_log_format_setting_is_one_line_naming_it():
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "LOG_FORMAT" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.django_db
def test_a_request_id_is_echoed_or_made_up(client):
    given = client.get("/api/health", HTTP_X_REQUEST_ID="abc.123:x-y")
    assert given["X-Request-ID"] == "abc.123:x-y"
    made = client.get("/api/health")
    assert len(made["X-Request-ID"]) == 32
    smuggled = client.get("/api/health", HTTP_X_REQUEST_ID="evil\nline injected")
    assert smuggled["X-Request-ID"] != "evil\nline injected"
    assert "\n" not in smuggled["X-Request-ID"]


@pytest.fixture
def json_lines():
    """The project's JSON formatter and context filter on the root logger, into a list."""
    config = django_settings.LOGGING["formatters"]["json"]
    formatter = import_string(config["()"])(config["format"], rename_fields=config["rename_fields"])
    records: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(json.loads(self.format(record)))

    handler = Collect()
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield records
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.django_db
def test_a_worker_report_is_logged_with_its_job_id(worker_api, json_lines):
    node = sdist_node("traced", "1.0", "https://files.example/traced-1.0.tar.gz", "0" * 64)
    plan = PlanFactory(dag={"nodes": [node], "edges": []})
    job = BuildJobFactory(name="traced", version="1.0", plan=plan, target=plan.target)
    pop = worker_api.post("/api/build-queue/pop?worker=w1")
    assert pop.status_code == 200, pop.json()

    response = worker_api.post(
        "/api/builds/status",
        {"job_id": job.pk, "worker": "w1", "status": "building"},
        format="json",
        HTTP_X_REQUEST_ID="remote-7",
    )

    assert response.status_code == 200, response.json()
    (report,) = [line for line in json_lines if "reports building" in line["message"]]
    assert report["job_id"] == job.pk
    assert report["request_id"] == "remote-7"


def test_lines_written_while_a_job_is_bound_name_it(json_lines):
    with log_context.bound_job(4242):
        logging.getLogger("builds.worker").info("building")
    logging.getLogger("builds.worker").info("idle")

    building, idle = json_lines[-2:]
    assert building["job_id"] == 4242
    assert idle["job_id"] == ""
