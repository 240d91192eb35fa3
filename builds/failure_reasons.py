"""Why a build attempt ended: the one list the runners, the worker, the queue and the job's
``failure_reason`` column share."""

from django.db import models


class FailureReason(models.TextChoices):
    NONE = "", "-"
    BUILD_ERROR = "build_error"
    TIMEOUT = "timeout"
    MISSING_BUILD_DEPENDENCY = "missing_build_dependency"
    INFRASTRUCTURE = "infrastructure"
    LEASE_EXPIRED = "lease_expired"
    DEPENDENCY_FAILED = "dependency_failed"
    KNOWN_FAILURE = "known_failure"
    SYSTEM_RECIPE = "system_recipe"
    CANCELLED = "cancelled"
    NO_REPAIR_FOUND = "no_repair_found"
    TARGET_TOO_OLD = "target_too_old"
