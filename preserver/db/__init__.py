"""The database layer: the async engine and its Alembic migrations, the table
models, and the job queue's named operations (``queue``), and the capture runs that claim jobs
(``runs``: who claimed a job, and whether that process still lives), the wake-up of idle
workers (``notify``: PostgreSQL ``LISTEN``) and one-process-at-a-time jobs (``singleton``:
advisory locks); the read path
(``reading``: the read commands' queries in plain SQL, without the ORM).

Nothing here knows about captures or audits beyond the rows they write; ORM objects
never leave ``preserver``.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.db.engine import Database, is_sqlite, make_engine
    from preserver.db.models import (
        AvailabilityCheck,
        Capture,
        CaptureFile,
        CheckpointRow,
        CheckpointTimestamp,
        Citation,
        Event,
        Job,
        JobState,
        Report,
        Run,
        Target,
        utc_now,
    )
    from preserver.db.queue import ClaimedJob, DeadRun

__all__ = [
    "AvailabilityCheck",
    "Capture",
    "CaptureFile",
    "CheckpointRow",
    "CheckpointTimestamp",
    "Citation",
    "ClaimedJob",
    "Database",
    "DeadRun",
    "Event",
    "Job",
    "JobState",
    "Report",
    "Run",
    "Target",
    "is_sqlite",
    "make_engine",
    "utc_now",
]

__getattr__, __dir__ = exports(__name__)
