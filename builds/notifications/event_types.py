"""The events a subscription may ask for, and which of them email carries."""

from __future__ import annotations

INPUT_PLANNED = "input.planned"
INPUT_BUILT = "input.built"
INPUT_FAILED = "input.failed"
JOB_STARTED = "job.started"
JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"
JOB_REGRESSED = "job.regressed"

ALL = (
    INPUT_PLANNED,
    INPUT_BUILT,
    INPUT_FAILED,
    JOB_STARTED,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_REGRESSED,
)
# One email per input outcome, not one per job: of the job events only a regression, which
# is rare and wants a person's attention, goes by email.
EMAIL = (INPUT_PLANNED, INPUT_BUILT, INPUT_FAILED, JOB_REGRESSED)
