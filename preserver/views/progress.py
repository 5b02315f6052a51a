"""Capture progress and capture runs, as plain data (the web's run pages, ``/api/runs``).

- ``capture_progress(reader, report=SHA256 or None)``: the capture jobs of the targets a
  report cites (or of every target) counted by job state, and those targets counted by
  link state, each once. A link's state is the one the reports page shows, by its one
  SQL definition (``views.reports.STATE_OF_TARGET``): its newest job's while it is
  queued, running or retrying, else its best capture (``complete``, ``partial``,
  ``failed``), else its newest job's, else ``not_queued``. ``pending`` counts the jobs a
  run has yet to finish (queued, running, retry).
- ``capture_runs(reader)``: the ``runs`` table (``db.runs``): every capture run that is
  working, or that ended while jobs still name it.
"""

from __future__ import annotations

from typing import Any

from preserver.custody.events import rfc3339
from preserver.db.reading import Reader
from preserver.db.values import CAPTURE, JobState, as_utc
from preserver.errors import UnknownKey
from preserver.views.reports import JOB_OF_TARGET, STATE_OF_TARGET

_PENDING = (JobState.QUEUED, JobState.RUNNING, JobState.RETRY)

_LINKS = f"""
SELECT {STATE_OF_TARGET} AS state, count(*) AS n
FROM targets t
{JOB_OF_TARGET}
WHERE {{where}}
GROUP BY 1
"""
_JOBS = "SELECT j.state AS state, count(*) AS n FROM jobs j WHERE j.kind = :kind AND {where} " \
        "GROUP BY j.state"
_OF_REPORT = "{alias}.id IN (SELECT target_id FROM citations WHERE report_id = :report_id)"


async def capture_progress(reader: Reader, *, report: str | None) -> dict[str, Any]:
    """Jobs and links by state, of report ``report`` (its SHA-256) or of every target;
    ``UnknownKey`` for a report the archive does not have."""
    params: dict[str, Any] = {"kind": CAPTURE}
    about: dict[str, Any] | None = None
    links_where = jobs_where = "1 = 1"
    if report is not None:
        found = await reader.rows("SELECT id, name, sha256 FROM reports WHERE sha256 = :sha",
                                  {"sha": report})
        if not found:
            raise UnknownKey(f"no report with SHA-256 {report} in the archive")
        about = {"name": found[0]["name"], "sha256": found[0]["sha256"]}
        params["report_id"] = found[0]["id"]
        links_where = _OF_REPORT.format(alias="t")
        jobs_where = "j.target_id IN (SELECT target_id FROM citations WHERE report_id = :report_id)"
    jobs = {r["state"]: int(r["n"]) for r in await reader.rows(
        _JOBS.format(where=jobs_where), params)}
    links = {r["state"]: int(r["n"]) for r in await reader.rows(
        _LINKS.format(where=links_where), params)}
    return {"report": about, "jobs": dict(sorted(jobs.items())),
            "links": dict(sorted(links.items())),
            "pending": sum(jobs.get(state, 0) for state in _PENDING)}


async def capture_runs(reader: Reader) -> list[dict[str, Any]]:
    """The ``runs`` table, newest first, each with how many capture jobs name it."""
    claimed = {r["run_id"]: int(r["n"]) for r in await reader.rows(
        "SELECT run_id, count(*) AS n FROM jobs WHERE run_id IS NOT NULL GROUP BY run_id")}
    rows = await reader.rows("SELECT id, host, pid, started_at, heartbeat_at, ended_at "
                             "FROM runs ORDER BY started_at DESC, id")
    return [{"id": r["id"], "host": r["host"], "pid": int(r["pid"]),
             "started_at": rfc3339(as_utc(r["started_at"])),
             "heartbeat_at": rfc3339(as_utc(r["heartbeat_at"])),
             "ended_at": rfc3339(as_utc(r["ended_at"])) if r["ended_at"] is not None else None,
             "jobs": claimed.get(r["id"], 0)} for r in rows]
