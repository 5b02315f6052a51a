"""``status``: counts of everything in the archive, as plain data (``status --json``).

Read through ``db.reading`` in plain SQL, so ``preserver status`` starts without the
ORM (docs/design.md "The read path").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from preserver.archive import free_space
from preserver.custody.events import rfc3339
from preserver.db import pauses
from preserver.db.reading import Reader, scalar
from preserver.db.values import CAPTURE, WITNESS, JobState, as_utc

if TYPE_CHECKING:
    from preserver.config import Config

# (table, column) counted by value in ``status``
_GROUPED = {"targets": ("targets", "platform"), "availability": ("targets", "status"),
            "captures": ("captures", "state")}


async def job_counts(reader: Reader, *, kind: str = CAPTURE) -> dict[str, int]:
    """Jobs of ``kind`` in each state."""
    rows = await reader.rows("SELECT state, count(*) AS n FROM jobs WHERE kind = :kind "
                             "GROUP BY state", {"kind": kind})
    return {r["state"]: int(r["n"]) for r in rows}


async def jobs_to_run(reader: Reader) -> int:
    """How many capture jobs a run would take on now: queued, retrying or running."""
    counts = await job_counts(reader)
    return sum(counts.get(state, 0) for state in (JobState.QUEUED, JobState.RETRY,
                                                    JobState.RUNNING))


async def _grouped(reader: Reader, table: str, column: str) -> dict[str, int]:
    rows = await reader.rows(f"SELECT {column} AS k, count(*) AS n FROM {table} "
                             f"GROUP BY {column}")
    return {str(r["k"]): int(r["n"]) for r in rows}


async def status(reader: Reader, *, config: Config | None = None) -> dict[str, Any]:
    """Counts of everything; with ``config``, also ``disk``: the free space captures have
    (``archive.FreeSpace.as_dict``; ``low`` when a ``max_bytes`` capture would not fit)."""
    [totals] = await reader.rows("SELECT count(id) AS files, coalesce(sum(size), 0) AS bytes "
                                 "FROM files")
    grouped = {name: await _grouped(reader, *where) for name, where in _GROUPED.items()}
    return {
        "reports": int(await scalar(reader, "SELECT count(id) FROM reports") or 0),
        "citations": int(await scalar(reader, "SELECT count(id) FROM citations") or 0),
        **grouped,
        "jobs": await job_counts(reader),
        "witness_jobs": await job_counts(reader, kind=WITNESS),
        "files": int(totals["files"]), "bytes": int(totals["bytes"]),
        "ledger": await _ledger_status(reader),
        "paused": [p.as_dict() for p in await pauses.active(reader)],
    } | ({"disk": free_space(config).as_dict()} if config is not None else {})


async def _ledger_status(reader: Reader) -> dict[str, Any]:
    """Events in the custody ledger, its last checkpoint, and timestamps still pending."""
    events = int(await scalar(reader, "SELECT count(id) FROM events") or 0)
    last = await reader.rows("SELECT size, root, created_at FROM checkpoints "
                             "ORDER BY size DESC LIMIT 1")
    pending = await reader.rows("SELECT size FROM checkpoints WHERE timestamps_pending "
                                "ORDER BY size")
    stamps = int(await scalar(reader, "SELECT count(id) FROM checkpoint_timestamps") or 0)
    return {
        "events": events,
        "checkpoint": None if not last else {
            "size": last[0]["size"], "root": last[0]["root"],
            "created_at": rfc3339(as_utc(last[0]["created_at"]))},
        "timestamps": stamps,
        "timestamps_pending_for": [r["size"] for r in pending],
    }
