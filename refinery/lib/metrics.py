"""The refinery's counters and histograms (Prometheus), recorded where things happen.

Every process that records (web server, django-q2 cluster, ``manage.py refine``) writes to
the same ``PROMETHEUS_MULTIPROC_DIR`` when it is set (``manage.py serve`` sets it for its
children), and ``/metrics`` adds them up; without it a process counts in memory, which is
right for a single process (tests, ``runserver``). Gauges are not kept here: the state of
the queue is read from the database at scrape time (``builds.metrics_collector``), so it is
right whichever process changed it and needs no live-process bookkeeping.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BUILDS = Counter(
    "refinery_builds",
    "Build attempts that ended, by outcome (the job's status afterwards), failure reason "
    "and target.",
    ["outcome", "reason", "target"],
)
BUILD_DURATION = Histogram(
    "refinery_build_duration_seconds",
    "Time from the container's start to the attempt's end.",
    ["target"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf")),
)
REGRESSIONS = Counter(
    "refinery_regressions",
    "Jobs that failed for a package that built before (same or an earlier version).",
    ["target"],
)
REPAIR_ROUNDS = Counter(
    "refinery_repair_rounds",
    "Repair decisions after a failed attempt (repair: requeued with new recipes), and jobs "
    "that built after repair rounds (succeeded).",
    ["outcome"],
)
HINT_HITS = Counter(
    "refinery_hint_hits", "Times a catalog hint contributed recipes or a skip.", ["hint"]
)
PLAN_DURATION = Histogram(
    "refinery_plan_duration_seconds",
    "Time to resolve an input into a plan (saved plans, local or remote planners).",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, float("inf")),
)
INDEX_REQUESTS = Counter(
    "refinery_index_requests",
    "Requests to the simple index, by kind (page, file) and HTTP status.",
    ["kind", "status"],
)
INDEX_CACHE_HITS = Counter(
    "refinery_index_cache_hits", "Index pages answered from their pre-rendered copy."
)
INDEX_CACHE_MISSES = Counter(
    "refinery_index_cache_misses", "Index pages that had to be rendered for a request."
)
CLAIMS = Counter(
    "refinery_claims",
    "Claims on the build queue by outcome: claimed (jobs handed out) or empty (nothing due).",
    ["outcome"],
)
NOTIFICATIONS = Counter("refinery_notifications", "Events recorded for subscribers.", ["event"])
DELIVERIES = Counter(
    "refinery_notification_deliveries",
    "Delivery attempts to subscribers, by kind (webhook, email) and outcome.",
    ["kind", "outcome"],
)


def count_index_request(kind: str, status: int) -> None:
    INDEX_REQUESTS.labels(kind, str(status)).inc()
