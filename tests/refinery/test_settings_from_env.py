"""Settings come from the environment and a bad value fails at start-up with one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from refinery.lib.env import Env

ROOT = Path(__file__).resolve().parents[2]


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings(env: dict[str, str], expression: str) -> object:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({expression}, default=str))"
    )
    result = _run({"DJANGO_SETTINGS_MODULE": "refinery.settings", **env}, "-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BUILD_POOL_SIZE", "lots", "BUILD_POOL_SIZE='lots' is not an integer"),
        ("PLAN_POOL_SIZE", "0", "PLAN_POOL_SIZE=0 is below the minimum of 1"),
        ("AUTO_PLAN", "maybe", "AUTO_PLAN='maybe' is not a boolean"),
        ("UPGRADE_STRATEGY", "latest", "UPGRADE_STRATEGY='latest' is not one of: pinned, eager"),
        ("PLATFORM_TAG", "win_amd64", "PLATFORM_TAG='win_amd64' is not a Linux platform tag"),
        ("PYTHON_VERSION", "2.7.18x", "PYTHON_VERSION='2.7.18x' is not a CPython version"),
        ("INDEX_URL", "pypi.org/simple", "INDEX_URL='pypi.org/simple' is not a URL"),
        ("EXTRA_INDEX_URL", "https://ok.example/simple ftp://x/y", "EXTRA_INDEX_URL='ftp://x/y'"),
        ("DATABASE_URL", "mysql://x/y", "names an unsupported database"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL='localhost:6379' is not a URL"),
        ("RUNNER_TIMEOUT_SEC", "-5", "RUNNER_TIMEOUT_SEC=-5 is below the minimum"),
        ("MAX_REQUEUE_ATTEMPTS", "3.5", "MAX_REQUEUE_ATTEMPTS='3.5' is not an integer"),
        ("OBJECT_STORE_ENDPOINT", "http://127.0.0.1:9000", "OBJECT_STORE_BUCKET is required"),
    ],
)
def test_a_bad_setting_stops_manage_py_with_one_line_naming_the_variable(
    name, value, message, tmp_path
):
    result = _run({name: value, "VAR_DIR": str(tmp_path)}, "manage.py", "check")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_embedded_defaults_need_no_environment_at_all(tmp_path):
    got = _settings(
        {"VAR_DIR": str(tmp_path)},
        "[s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], 'orm' in s.Q_CLUSTER, "
        "s.CHANNEL_LAYERS['default']['BACKEND'], s.STORAGES['default']['BACKEND'], s.AUTO_PLAN, "
        "s.UPGRADE_STRATEGY, s.INDEX_URL]",
    )
    assert got == [
        "django.db.backends.sqlite3",
        str(tmp_path / "refinery.sqlite3"),
        True,
        "channels.layers.InMemoryChannelLayer",
        "django.core.files.storage.FileSystemStorage",
        True,
        "pinned",
        "https://pypi.org/simple/",
    ]


def test_redis_url_moves_the_task_broker_and_channel_layer_to_redis(tmp_path):
    got = _settings(
        {"VAR_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/15"},
        "[s.Q_CLUSTER.get('redis'), 'orm' in s.Q_CLUSTER, s.CHANNEL_LAYERS['default']['BACKEND']]",
    )
    assert got == ["redis://127.0.0.1:6379/15", False, "channels_redis.core.RedisChannelLayer"]


def test_with_redis_url_tasks_and_channel_messages_really_travel_through_redis(tmp_path):
    code = """
import asyncio, django
django.setup()
from django_q.brokers import get_broker
from channels.layers import get_channel_layer
broker = get_broker()
assert type(broker).__name__ == "Redis", type(broker).__name__
broker.purge_queue()
broker.enqueue("hello")
task = broker.dequeue()
assert task and task[0][1] == b"hello", task
async def roundtrip():
    layer = get_channel_layer()
    name = await layer.new_channel()
    await layer.send(name, {"type": "ping", "n": 7})
    return await layer.receive(name)
print(asyncio.run(roundtrip())["n"])
"""
    result = _run(
        {
            "DJANGO_SETTINGS_MODULE": "refinery.settings",
            "VAR_DIR": str(tmp_path),
            "REDIS_URL": "redis://127.0.0.1:6379/15",
        },
        "-c",
        code,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "7"


def test_object_store_settings_select_s3_storage_with_their_options(tmp_path):
    got = _settings(
        {
            "VAR_DIR": str(tmp_path),
            "OBJECT_STORE_BUCKET": "wheels",
            "OBJECT_STORE_ENDPOINT": "http://127.0.0.1:9000",
            "OBJECT_STORE_ACCESS_KEY": "key",
            "OBJECT_STORE_SECRET_KEY": "secret",
        },
        "[s.STORAGES['default']['BACKEND'], s.STORAGES['default']['OPTIONS']['bucket_name'], "
        "s.STORAGES['default']['OPTIONS']['endpoint_url']]",
    )
    assert got == ["storages.backends.s3.S3Storage", "wheels", "http://127.0.0.1:9000"]


def test_a_secret_can_come_from_a_file(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    assert Env({"WORKER_TOKEN_FILE": str(token)}).secret("WORKER_TOKEN") == "s3cret"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"WORKER_TOKEN": "a", "WORKER_TOKEN_FILE": "/x"}, "set only one"),
        (
            {"WORKER_TOKEN_FILE": "/nonexistent/token"},
            "WORKER_TOKEN_FILE='/nonexistent/token' cannot be read",
        ),
    ],
)
def test_a_bad_secret_names_the_variable(environ, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        Env(environ).secret("WORKER_TOKEN")


def test_booleans_accept_the_usual_spellings():
    env = Env({"A": "YES", "B": "0", "C": " on "})
    assert (env.flag("A", False), env.flag("B", True), env.flag("C", False)) == (True, False, True)


def test_served_over_https_cookies_are_secure_with_hsts_and_a_redirect():
    secure = _settings(
        {"PUBLIC_URL": "https://refinery.example"},
        "[s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.X_FRAME_OPTIONS]",
    )
    assert secure == [True, True, True, 31536000, "DENY"]
    plain = _settings(
        {"PUBLIC_URL": "http://127.0.0.1:8000"},
        "[s.SESSION_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS]",
    )
    assert plain == [False, False, 0]


def test_builds_get_a_network_without_the_host_unless_host_is_asked_for():
    assert _settings({}, "s.RUNNER_NETWORK") == "slirp4netns:allow_host_loopback=false"
    assert _settings({"RUNNER_NETWORK": "host"}, "s.RUNNER_NETWORK") == "host"


def test_api_reads_need_a_credential_unless_opened():
    assert _settings({}, "s.API_READS_OPEN") is False
    assert _settings({"API_READS_OPEN": "true"}, "s.API_READS_OPEN") is True
