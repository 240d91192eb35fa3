"""Build logs over HTTP: the whole log, chunks since a cursor for tailing, and search."""

from __future__ import annotations

import json

import pytest

from builds.log_sink import store_chunk
from builds.models import LogChunk
from tests.factories import BuildJobFactory

pytestmark = pytest.mark.django_db


def _log(job, *texts: str, attempt: int = 1, first_seq: int = 0) -> list[LogChunk]:
    for seq, text in enumerate(texts, start=first_seq):
        store_chunk(job.pk, attempt, seq, text)
    return list(LogChunk.objects.filter(job=job, attempt=attempt, seq__gte=first_seq))


def _streamed_json(response):
    return json.loads(b"".join(response.streaming_content))


def test_the_log_of_a_package_is_its_latest_jobs_whole_output(automation_api):
    old = BuildJobFactory(name="six", version="1.16.0", status="failed")
    _log(old, "old attempt\n")
    job = BuildJobFactory(name="six", version="1.16.0")
    _log(job, "collecting\n", "built\n")
    body = _streamed_json(automation_api.get("/api/logs/Six/1.16.0"))
    assert (body["job"], body["text"]) == (job.pk, "collecting\nbuilt\n")
    earlier = _streamed_json(automation_api.get(f"/api/logs/six/1.16.0?job={old.pk}"))
    assert earlier["text"] == "old attempt\n"
    assert automation_api.get("/api/logs/six/9.9").status_code == 404
    assert automation_api.get("/api/logs/six/1.16.0?job=x").json() == {
        "error": "job: 'x' is not a non-negative integer"
    }


def test_chunks_since_a_cursor_give_only_what_is_new(automation_api):
    job = BuildJobFactory(name="six", version="1.16.0", status="building")
    _, second = _log(job, "one\n", "two\n")
    all_chunks = automation_api.get("/api/logs/chunks/six/1.16.0").json()
    assert [c["text"] for c in all_chunks["chunks"]] == ["one\n", "two\n"]
    assert all_chunks["next_since"] == second.pk
    assert all_chunks["finished"] is False
    _log(job, "three\n", first_seq=2)
    new = automation_api.get(f"/api/logs/chunks/six/1.16.0?since={second.pk}").json()
    assert [c["text"] for c in new["chunks"]] == ["three\n"]
    idle = automation_api.get(f"/api/logs/chunks/six/1.16.0?since={new['next_since']}").json()
    assert idle["chunks"] == []
    assert idle["next_since"] == new["next_since"]


def test_search_finds_matching_lines_across_logs(automation_api):
    six = BuildJobFactory(name="six", version="1.0")
    _log(six, "compiling\nfatal error: ffi.h: No such file or directory\nstop\n")
    other = BuildJobFactory(name="cffi", version="1.0")
    _log(other, "FATAL ERROR: ffi.h missing too\n")
    body = automation_api.get("/api/logs/search?q=fatal error: ffi.h").json()
    assert sorted(m["package"] for m in body["matches"]) == ["cffi==1.0", "six==1.0"]
    six_only = automation_api.get("/api/logs/search?q=ffi.h&package=six").json()["matches"]
    assert six_only == [
        {
            "job": six.pk,
            "package": "six==1.0",
            "attempt": 1,
            "chunk": six.log_chunks.get().pk,
            "line": "fatal error: ffi.h: No such file or directory",
        }
    ]
    assert automation_api.get("/api/logs/search?q=x").status_code == 400


def test_a_nul_in_a_url_is_a_clear_400(automation_api):
    response = automation_api.get("/api/logs/search?q=ab%00cd")
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]
