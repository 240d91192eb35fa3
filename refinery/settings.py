"""Settings for the Wheel Refinery, read from the environment.

Every value comes through ``refinery.lib.env.Env``, which raises
``ImproperlyConfigured`` naming the variable when a value is malformed.
Embedded defaults (nothing set): SQLite under ``var/``, the django-q2 ORM broker,
an in-process channel layer, filesystem storage under ``var/``, the local runner.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from inputs.strategy import STRATEGIES, Strategy
from refinery.lib.env import Env

# Lets admin.ModelAdmin[Model] and QuerySet[Model] be subscripted at runtime, as mypy sees them.
django_stubs_ext.monkeypatch()

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.text("VAR_DIR", str(BASE_DIR / "var")))


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, or a random key kept in var/ so sessions survive restarts."""
    configured = env.secret("DJANGO_SECRET_KEY")
    if configured is not None:
        return configured
    key_file = VAR_DIR / "secret-key"
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key, encoding="utf-8")
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
DEBUG = env.flag("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [
    host
    for host in re.split(r"[\s,]+", env.text("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]"))
    if host
]
CSRF_TRUSTED_ORIGINS = env.url_list("CSRF_TRUSTED_ORIGINS", schemes=("http", "https"))

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_filters",
    "drf_spectacular_sidecar",
    "django_q",
    "refinery",
    "inputs",
    "plans",
    # builds after plans: builds/admin.py extends the Plan admin with its build actions.
    "builds",
    "hints",
]

MIDDLEWARE = [
    "refinery.lib.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "refinery.lib.nul_guard.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "refinery.urls"
ASGI_APPLICATION = "refinery.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------


def _database() -> dict[str, Any]:
    default_url = f"sqlite:///{VAR_DIR / 'refinery.sqlite3'}"
    url = env.text("DATABASE_URL", default_url)
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL={url!r} is not usable: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # Connections are kept (CONN_MAX_AGE) as on Postgres: a build slot that opened one
        # and set its pragmas again for every build paid 2 ms a build (bench/dag_makespan.py).
        # A file, not shared-cache memory, so test threads wait on the lock like real workers.
        config["TEST"] = {"NAME": str(Path(config["NAME"]).with_suffix(".test.sqlite3"))}
        # IMMEDIATE takes the write lock at BEGIN, so two claimers never deadlock
        # upgrading read locks; WAL lets the web server read while a worker writes.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif engine != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"DATABASE_URL={url!r} names an unsupported database; use postgres:// or sqlite://"
        )
    else:
        config["CONN_HEALTH_CHECKS"] = True
        # Django's own queries bind on the client and are never prepared; this lets the
        # hot statements that ask for it (the claim, refinery.lib.db.fetch_prepared) be.
        # Off for a pooler in transaction mode that cannot keep prepared statements.
        prepared = env.flag("DATABASE_PREPARED_STATEMENTS", True)
        config["OPTIONS"] = {"prepare_threshold": 5 if prepared else None}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker, channel layer ---------------------------------------------------------

REDIS_URL = env.url("REDIS_URL", None, schemes=("redis", "rediss", "unix"))

PLAN_POOL_SIZE = env.integer("PLAN_POOL_SIZE", 1, minimum=1, maximum=64)
BUILD_POOL_SIZE = env.integer("BUILD_POOL_SIZE", 2, minimum=1, maximum=256)
RUNNER_TIMEOUT_SEC = env.integer("RUNNER_TIMEOUT_SEC", 3600, minimum=10, maximum=7 * 24 * 3600)

Q_CLUSTER: dict[str, Any] = {
    "name": "refinery",
    "workers": env.integer("Q_WORKERS", max(2, PLAN_POOL_SIZE + 1), minimum=1, maximum=64),
    # A q2 task may run a whole build; q2 requires retry > timeout.
    "timeout": RUNNER_TIMEOUT_SEC + 300,
    "retry": RUNNER_TIMEOUT_SEC + 600,
    "max_attempts": 1,
    "catch_up": False,
    "ack_failures": True,
    "label": "Task queue",
}
# The cache holds API throttle counters: shared through Redis when there is one, so every
# web process counts the same uploads; per process otherwise.
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    CHANNEL_LAYERS: dict[str, Any] = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "refinery",
        }
    }
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.5
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Storage ---------------------------------------------------------------------------

MEDIA_ROOT = Path(env.text("STORAGE_ROOT", str(VAR_DIR / "storage")))
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns at every start without it
STATICFILES_DIRS = [BASE_DIR / "static"]

_OBJECT_STORE_NAMES = (
    "OBJECT_STORE_BUCKET",
    "OBJECT_STORE_ENDPOINT",
    "OBJECT_STORE_ACCESS_KEY",
    "OBJECT_STORE_SECRET_KEY",
    "OBJECT_STORE_REGION",
)


def _default_storage() -> dict[str, Any]:
    configured = [name for name in _OBJECT_STORE_NAMES if env.is_set(name)]
    configured += ["OBJECT_STORE_SECRET_KEY"] if env.is_set("OBJECT_STORE_SECRET_KEY_FILE") else []
    if not configured:
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": MEDIA_ROOT},
        }
    bucket = env.optional_text("OBJECT_STORE_BUCKET")
    if bucket is None:
        raise ImproperlyConfigured(f"OBJECT_STORE_BUCKET is required when {configured[0]} is set")
    access_key = env.optional_text("OBJECT_STORE_ACCESS_KEY")
    secret_key = env.secret("OBJECT_STORE_SECRET_KEY")
    if (access_key is None) != (secret_key is None):
        raise ImproperlyConfigured(
            "OBJECT_STORE_ACCESS_KEY and OBJECT_STORE_SECRET_KEY must be set together"
        )
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": env.url("OBJECT_STORE_ENDPOINT", None, schemes=("http", "https")),
        "access_key": access_key,
        "secret_key": secret_key,
        "region_name": env.optional_text("OBJECT_STORE_REGION"),
        "location": env.text("OBJECT_STORE_PREFIX", ""),
        "file_overwrite": False,
        "querystring_expire": env.integer("OBJECT_STORE_URL_EXPIRY_SEC", 300, minimum=10),
        "addressing_style": env.choice(
            "OBJECT_STORE_ADDRESSING", "path", ("path", "virtual", "auto")
        ),
        "signature_version": "s3v4",
    }
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES = {
    "default": _default_storage(),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Auth, i18n -----------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["refinery.formats"]  # times to the second in the admin

# Reads of the API without a credential: closed unless set (inputs, logs and uploaders'
# names are not for everyone); the package index (/simple/, /files/) is always public.
API_READS_OPEN = env.flag("API_READS_OPEN", False)
UPLOAD_THROTTLE_RATE = env.matching(
    "UPLOAD_THROTTLE_RATE",
    "120/min",
    re.compile(r"\d{1,6}/(s|sec|m|min|h|hour|d|day)"),
    "a rate such as 120/min or 1000/hour",
)
REST_FRAMEWORK: dict[str, Any] = {
    # The token class first: its WWW-Authenticate header makes missing credentials a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "refinery.lib.api_auth.WorkerTokenAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "refinery.lib.api_auth.BearerTokenAuthentication",
        # Session auth enforces CSRF on writes, as the admin's own forms do.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["refinery.lib.api_auth.IsOperator"],
    "DEFAULT_SCHEMA_CLASS": "refinery.lib.api_schema.RefineryAutoSchema",
    "EXCEPTION_HANDLER": "refinery.lib.api_errors.exception_handler",
    "VIEW_DESCRIPTION_FUNCTION": "refinery.lib.api_descriptions.view_description",
}
SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Wheel Refinery API",
    "DESCRIPTION": (
        "Uploads, the plan and build queues, workers, artifacts and the index's operations. "
        "Staff use their session (with CSRF); workers send X-Worker-Token."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The API's description is public (no data in it); everything it describes is not.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files: no CDN needed
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that share a field name get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "InputKindEnum": "inputs.models.PendingInput.Kind",
        "InputStatusEnum": "inputs.models.PendingInput.Status",
        "PlanStatusEnum": "plans.models.Plan.Status",
        "BuildStatusEnum": "builds.models.BuildJob.Status",
        "StrategyEnum": "inputs.strategy.STRATEGY_CHOICES",
        "PriorityLevelEnum": "inputs.priority.Priority",
        "PriorityNameEnum": ["low", "normal", "high", "critical"],
        "FailureReasonEnum": "builds.models.BuildJob.FailureReason",
        "DeliveryStatusEnum": "builds.models.Delivery.Status",
        "SubscriptionKindEnum": "builds.models.Subscription.Kind",
    },
}

# --- The refinery (names from the seed documents) ---------------------------------------

AUTO_PLAN = env.flag("AUTO_PLAN", True)
AUTO_BUILD = env.flag("AUTO_BUILD", True)

_HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
PYTHON_VERSION = env.matching(
    "PYTHON_VERSION",
    _HOST_PYTHON,
    re.compile(r"3\.\d{1,2}(\.\d{1,3})?"),
    "a CPython version such as 3.11 or 3.11.7",
)
PLATFORM_TAG = env.matching(
    "PLATFORM_TAG",
    f"manylinux_2_17_{platform.machine()}",
    re.compile(
        r"(manylinux_\d+_\d+|musllinux_\d+_\d+|manylinux2014|linux)"
        r"_(x86_64|aarch64|s390x|ppc64le|i686|armv7l)"
    ),
    "a Linux platform tag such as manylinux_2_17_s390x",
)
INDEX_URL = env.url("INDEX_URL", "https://pypi.org/simple/", schemes=("http", "https"))
EXTRA_INDEX_URL = env.url_list("EXTRA_INDEX_URL", schemes=("http", "https"))
UPGRADE_STRATEGY = env.choice("UPGRADE_STRATEGY", Strategy.PINNED, STRATEGIES)


def _plan_overrides() -> dict[str, Any]:
    raw = env.optional_text("PLAN_OVERRIDES_JSON")
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"PLAN_OVERRIDES_JSON is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or set(value) - {"force", "exclude"}:
        raise ImproperlyConfigured(
            'PLAN_OVERRIDES_JSON must be an object with "force" and/or "exclude"'
        )
    return value


PLAN_OVERRIDES_JSON = _plan_overrides()
MAX_DEPS = env.integer("MAX_DEPS", 500, minimum=1, maximum=100_000)
# Local plan workers: a q2 task plans each enqueued input. Off when only remote plan
# workers (POST /api/pending-inputs/pop) should plan.
LOCAL_PLANNING = env.flag("LOCAL_PLANNING", True)
INDEX_CACHE_DIR = Path(env.text("INDEX_CACHE_DIR", str(VAR_DIR / "cache" / "index")))
INDEX_CACHE_TTL_SEC = env.integer("INDEX_CACHE_TTL_SEC", 600, minimum=0, maximum=7 * 24 * 3600)
INDEX_CA_BUNDLE = env.optional_text("INDEX_CA_BUNDLE")
INDEX_WORKERS = env.integer("INDEX_WORKERS", 16, minimum=1, maximum=64)
REQUIREMENTS_MAX_BYTES = env.integer("REQUIREMENTS_MAX_BYTES", 256 * 1024, minimum=64)
REQUIREMENTS_MAX_LINES = env.integer("REQUIREMENTS_MAX_LINES", 2000, minimum=1)

# --- Request bodies (refinery.lib.body_limits answers before Django reads a byte) ----------
# Uploads have their own limits (requirements and wheels, below); other requests with a
# credential get REQUEST_MAX_BYTES, requests without one (the login form) far less.
REQUEST_MAX_BYTES = env.integer("REQUEST_MAX_BYTES", 10 * 1024 * 1024, minimum=64 * 1024)
ANONYMOUS_REQUEST_MAX_BYTES = env.integer(
    "ANONYMOUS_REQUEST_MAX_BYTES", 64 * 1024, minimum=4 * 1024
)
# Where uploaded files wait while a request is handled; each is removed when it ends.
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "tmp" / "uploads")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)

# --- Our index (/simple/) and wheel uploads ----------------------------------------------
# Pre-rendered simple pages; every process that publishes (web, cluster) must share it.
# Where clients reach this refinery (the install line `manage.py refine` prints).
PUBLIC_URL = env.url("PUBLIC_URL", "http://127.0.0.1:8000", schemes=("http", "https")).rstrip("/")

# Served over HTTPS (PUBLIC_URL says so): cookies only over TLS, HSTS, and plain HTTP
# redirected. Behind a TLS-terminating proxy, TRUST_X_FORWARDED_PROTO tells Django the
# request was secure (only set it when the proxy overwrites that header).
_HTTPS = PUBLIC_URL.startswith("https://")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _HTTPS
SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", _HTTPS)
SECURE_HSTS_SECONDS = env.integer(
    "SECURE_HSTS_SECONDS", 31_536_000 if _HTTPS else 0, minimum=0, maximum=2 * 31_536_000
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
if env.flag("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
# Probes inside the deployment speak plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/(health|ready)$"]
INDEX_PAGES_DIR = Path(env.text("INDEX_PAGES_DIR", str(VAR_DIR / "index-pages")))
WHEEL_UPLOAD_MAX_BYTES = env.integer("WHEEL_UPLOAD_MAX_BYTES", 200 * 1024 * 1024, minimum=1024)
# A wheel may unpack to at most this much, and no member may compress better than the ratio:
# beyond that it is a zip bomb, not a package.
WHEEL_MAX_UNPACKED_BYTES = env.integer(
    "WHEEL_MAX_UNPACKED_BYTES", 2 * 1024 * 1024 * 1024, minimum=1024
)
WHEEL_MAX_COMPRESSION_RATIO = env.integer("WHEEL_MAX_COMPRESSION_RATIO", 200, minimum=2)
# Members per wheel, and the size of METADATA (stored in the database, served for PEP 658).
WHEEL_MAX_MEMBERS = env.integer("WHEEL_MAX_MEMBERS", 100_000, minimum=10)
WHEEL_MAX_METADATA_BYTES = env.integer("WHEEL_MAX_METADATA_BYTES", 1024 * 1024, minimum=1024)

# --- Build logs ------------------------------------------------------------------------------
# What one attempt may store: the first half and the last half, the cut marked in between.
LOG_MAX_BYTES_PER_ATTEMPT = env.integer(
    "LOG_MAX_BYTES_PER_ATTEMPT", 8 * 1024 * 1024, minimum=64 * 1024
)
# Longer lines are split into several (a compiler can print a megabyte on one line).
LOG_MAX_LINE_CHARS = env.integer("LOG_MAX_LINE_CHARS", 8000, minimum=80, maximum=1_000_000)

# --- Runners ---------------------------------------------------------------------------
# auto: podman when it and this machine's builder image are there, else the local runner.
RUNNER = env.choice("RUNNER", "auto", ("auto", "local", "podman"))
PODMAN_BIN = env.text("PODMAN_BIN", "podman")
PODMAN_CONTAINERS_CONF = env.text(
    "PODMAN_CONTAINERS_CONF", str(BASE_DIR / "refinery" / "deploy" / "containers.conf")
)
CONTAINER_PRESET = env.choice("CONTAINER_PRESET", "debian-bookworm", ("debian-bookworm",))
CONTAINER_IMAGE = env.optional_text("CONTAINER_IMAGE")  # overrides the preset's image
# Machines behind a TLS-intercepting proxy need its CA inside the build container.
# Default: SSL_CERT_FILE, else the host's system bundle (harmless where there is no proxy).
RUNNER_CA_BUNDLE = env.optional_text("RUNNER_CA_BUNDLE") or next(
    (
        path
        for path in (os.environ.get("SSL_CERT_FILE", ""), "/etc/ssl/certs/ca-certificates.crt")
        if path and os.path.exists(path)
    ),
    None,
)
# The build sandbox (builds/runners/sandbox.py). Scratch space is a tmpfs of RUNNER_DISK at
# /tmp, and what a build keeps there counts toward RUNNER_MEMORY too; RUNNER_DISK also caps
# what a build may write into its output folder.
RUNNER_MEMORY = env.matching(
    "RUNNER_MEMORY", "8g", re.compile(r"\d+[kmg]?"), "a size such as 8g or 512m"
)
RUNNER_DISK = env.matching(
    "RUNNER_DISK", "8g", re.compile(r"\d+[kmg]?"), "a size such as 8g or 512m"
)
# A read-only root keeps a build from changing its image; an operator's own image
# (CONTAINER_IMAGE) that must write outside /tmp can turn it off.
RUNNER_READ_ONLY_ROOT = env.flag("RUNNER_READ_ONLY_ROOT", True)
RUNNER_CPUS = env.matching("RUNNER_CPUS", "2", re.compile(r"\d+(\.\d+)?"), "a number of CPUs")
RUNNER_PIDS_LIMIT = env.integer("RUNNER_PIDS_LIMIT", 4096, minimum=64)
# Builds reach the package indexes but not this host: slirp4netns without the host loopback
# refuses 127.0.0.1 and the host's gateway (Postgres, Redis and this API listen there).
# RUNNER_NETWORK=host is an explicit opt-in that gives every build script the host's network.
RUNNER_NETWORK = env.matching(
    "RUNNER_NETWORK",
    "slirp4netns:allow_host_loopback=false",
    re.compile(r"[a-z0-9][a-z0-9_.-]*(:[A-Za-z0-9_.,=/-]+)?"),
    "a podman --network value such as slirp4netns:allow_host_loopback=false, none or host",
)
WORKER_RUN_CMD = env.optional_text("WORKER_RUN_CMD")  # an operator's own build command

# Repair: rounds of inferred recipes a job may get (apart from its retries), and where the
# Contents indexes of the builder presets' suites live (manage.py contents_index).
MAX_REPAIR_ROUNDS = env.integer("MAX_REPAIR_ROUNDS", 4, minimum=0, maximum=20)
CONTENTS_INDEX_DIR = Path(env.text("CONTENTS_INDEX_DIR", str(VAR_DIR / "contents")))
# A missing index is fetched and built the first time a repair needs it (a minute, once).
CONTENTS_INDEX_AUTO_BUILD = env.flag("CONTENTS_INDEX_AUTO_BUILD", True)
REQUEUE_ON_FAILURE = env.flag("REQUEUE_ON_FAILURE", True)
MAX_REQUEUE_ATTEMPTS = env.integer("MAX_REQUEUE_ATTEMPTS", 3, minimum=0, maximum=100)
RETRY_BACKOFF_BASE_SEC = env.integer("RETRY_BACKOFF_BASE_SEC", 30, minimum=1, maximum=3600)
RETRY_BACKOFF_MAX_SEC = env.integer("RETRY_BACKOFF_MAX_SEC", 3600, minimum=1, maximum=7 * 24 * 3600)
# On shutdown (SIGTERM), how long the cluster's running builds may go on before they are
# stopped and handed back; below serve's 30 s, after which what is left is killed.
SHUTDOWN_GRACE_SEC = env.integer("SHUTDOWN_GRACE_SEC", 20, minimum=0, maximum=3600)
# How often a running build looks whether it was cancelled (a read; the lease's heartbeat
# is every BUILD_LEASE_SEC / 3).
CANCEL_CHECK_SEC = env.integer("CANCEL_CHECK_SEC", 1, minimum=1, maximum=60)
BUILD_LEASE_SEC = env.integer("BUILD_LEASE_SEC", 300, minimum=5, maximum=24 * 3600)
# How long a worker waits for a database that went away before it gives up on what it has
# to report (the job is then recovered like one whose worker died).
DB_OUTAGE_PATIENCE_SEC = env.integer("DB_OUTAGE_PATIENCE_SEC", 120, minimum=0, maximum=3600)
PLAN_LEASE_SEC = env.integer("PLAN_LEASE_SEC", 600, minimum=5, maximum=24 * 3600)
PLAN_MAX_ATTEMPTS = env.integer("PLAN_MAX_ATTEMPTS", 3, minimum=1, maximum=100)

WORKER_TOKEN = env.secret("WORKER_TOKEN")
# A remote worker's trigger: POST /api/worker/trigger forwards {"action": "drain"} here
# (with X-Worker-Token) instead of nudging this host's cluster.
WORKER_WEBHOOK_URL = env.url("WORKER_WEBHOOK_URL", None, schemes=("http", "https"))

# --- Observability and notifications -----------------------------------------------------

# /metrics: open to loopback clients; from elsewhere with "Authorization: Bearer <token>".
METRICS_TOKEN = env.secret("METRICS_TOKEN")
# Where every process writes its counters (prometheus_client's multiprocess mode). Set in
# the environment before the processes start (manage.py serve does it for its children).
PROMETHEUS_MULTIPROC_DIR = env.optional_text("PROMETHEUS_MULTIPROC_DIR")
# Webhooks: private, loopback and link-local destinations are refused unless allowed.
WEBHOOK_ALLOW_PRIVATE = env.flag("WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_TIMEOUT_SEC = env.integer("WEBHOOK_TIMEOUT_SEC", 15, minimum=1, maximum=60)
WEBHOOK_MAX_ATTEMPTS = env.integer("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, maximum=30)
# Retries wait base * 2^(n-1) seconds with jitter, up to the max (Standard Webhooks' 5 s,
# minutes, hours); the cluster's scheduler looks for due retries every 30 s.
WEBHOOK_RETRY_BASE_SEC = env.integer("WEBHOOK_RETRY_BASE_SEC", 5, minimum=0, maximum=3600)
WEBHOOK_RETRY_MAX_SEC = env.integer(
    "WEBHOOK_RETRY_MAX_SEC", 24 * 3600, minimum=1, maximum=7 * 24 * 3600
)
# A subscription that failed this many attempts in a row is disabled (with a notice).
WEBHOOK_DISABLE_AFTER = env.integer("WEBHOOK_DISABLE_AFTER", 20, minimum=1, maximum=1000)
# Email goes through Django's email backend: SMTP when EMAIL_HOST is set, else the console.
EMAIL_HOST = env.text("EMAIL_HOST", "")
EMAIL_PORT = env.integer("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env.text("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env.flag("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 30
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.text("EMAIL_FROM", "Wheel Refinery <refinery@localhost>")

if RETRY_BACKOFF_MAX_SEC < RETRY_BACKOFF_BASE_SEC:
    raise ImproperlyConfigured(
        f"RETRY_BACKOFF_MAX_SEC={RETRY_BACKOFF_MAX_SEC} is below "
        f"RETRY_BACKOFF_BASE_SEC={RETRY_BACKOFF_BASE_SEC}"
    )

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "refinery.lib.log_context.ContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        # One JSON object per line, with the request and job a line was written for.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s "
            "%(request_id)s %(job_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env.choice("LOG_FORMAT", "text", ("text", "json")),
            "filters": ["context"],
        }
    },
    # httpx logs every request at INFO; the planner makes hundreds.
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "build": {"level": "WARNING"},  # PEP 517 metadata preparation narrates every step
    },
    "root": {
        "handlers": ["console"],
        "level": env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
    },
}
