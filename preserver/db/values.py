"""The database's words and clock, without SQLAlchemy: the read path (``db.reading``)
and the views use them without loading the table models (issue 12).

``JobState`` names a job's states; ``CAPTURE`` and ``WITNESS`` the job kinds. The
``jobs.state`` and ``jobs.kind`` columns stay strings: a ``StrEnum`` member is its
string, so the rows are what they were before the enum.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

# Job kinds: a capture of the target; the independent witness of it (preserver.witness:
# the URL submitted to Save Page Now). Each worker claims its own kind only.
CAPTURE, WITNESS = "capture", "witness"


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | str) -> datetime:
    """A time column's value as an aware UTC datetime: what ``models.UTCDateTime`` gives.
    SQLite holds it as text (``2026-11-26 21:37:12.426830``, UTC, as SQLAlchemy writes
    it); PostgreSQL's driver gives a datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def sqlite_time(value: object) -> object:
    """A datetime as SQLAlchemy writes it in SQLite (UTC, naive, microseconds), for a
    query's parameter; any other value as it is."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


class JobState(StrEnum):
    """Where a job is in the queue (``preserver.db.queue`` moves it)."""

    QUEUED = "queued"  # waiting; ``run_after`` says from when
    RUNNING = "running"  # claimed by a worker
    RETRY = "retry"  # failed transiently, to be tried by a later run after ``run_after``
    DONE = "done"
    FAILED = "failed"  # permanently, or out of attempts
