"""One report in full: what it is, and each citation in report order with its target's
state, availability and the copy the archive holds (the web's report page and
``/api/reports/{sha256}``).

A link's *state* is ``views.reports``' (one SQL definition, ``STATE_OF_TARGET``). The
*copy held* is the target's best capture: ``complete`` over ``partial`` over ``failed``,
the latest of its state; with its media files (a page-only capture's page snapshot when it
has no media). The queries are plain SQL through ``db.reading``, a fixed number of them
whatever the report's size (no query per citation): the report, its counts, one page of
citations with their targets, and those targets' best captures with their files.

Messages (a target's last check's, a capture's) are the platforms' and the network's
words: untrusted text, as the labels are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from preserver.custody.events import rfc3339
from preserver.db.reading import Reader
from preserver.db.values import CAPTURE, as_utc
from preserver.views.reports import JOB_OF_TARGET, STATE_OF_TARGET


@dataclass(frozen=True, kw_only=True)
class Window:
    """Which citations to list: ``limit`` of them from ``offset`` (report order); all
    when ``limit`` is None."""

    offset: int = 0
    limit: int | None = None


_CITATIONS = f"""
SELECT c.line, c.page, c.label, c.raw_url, c.start_seconds, t.id AS target_id, t.key,
  t.status AS availability, t.last_message, {STATE_OF_TARGET} AS state
FROM citations c JOIN targets t ON t.id = c.target_id
{JOB_OF_TARGET}
WHERE c.report_id = :report
ORDER BY c."offset"
"""

# Each listed target's best capture (rank 1) and its media and page files. Window
# functions: SQLite 3.25+ and PostgreSQL alike.
_BEST = """
WITH best AS (
  SELECT k.id, k.target_id, k.state, k.message, k.finished_at,
    ROW_NUMBER() OVER (PARTITION BY k.target_id ORDER BY
      CASE k.state WHEN 'complete' THEN 0 WHEN 'partial' THEN 1 ELSE 2 END,
      k.finished_at DESC, k.id) AS rank
  FROM captures k WHERE k.target_id IN ({targets}))
SELECT b.id, b.target_id, b.state, b.message, b.finished_at, f.role, f.sha256, f.size
FROM best b LEFT JOIN files f ON f.capture_id = b.id AND f.role IN ('media', 'page')
WHERE b.rank = 1
ORDER BY b.target_id, f.id
"""


async def report_of(reader: Reader, sha256: str,
                    window: Window | None = None) -> dict[str, Any] | None:
    """The report whose SHA-256 is ``sha256`` (64 lower-case hex) with the citations in
    ``window`` (all by default), or None when the archive has no such report.

    ``citations`` counts all of the report's citations; ``states`` and ``availability``
    count its distinct links, as ``views.reports`` does.
    """
    window = window or Window()
    found = await reader.rows(
        "SELECT id, name, sha256, size, media_type, blob_sha256, ingested_at FROM reports "
        "WHERE sha256 = :sha", {"sha": sha256})
    if not found:
        return None
    r = found[0]
    params: dict[str, Any] = {"report": r["id"], "kind": CAPTURE}
    states: dict[str, int] = defaultdict(int)
    availability: dict[str, int] = defaultdict(int)
    for row in await reader.rows(  # counted by the database: a few rows, not one a link
            "SELECT availability, state, count(*) AS n FROM ("
            f"SELECT t.status AS availability, {STATE_OF_TARGET} AS state FROM targets t "
            f"{JOB_OF_TARGET} WHERE t.id IN "
            "(SELECT target_id FROM citations WHERE report_id = :report)) s "
            "GROUP BY availability, state", params):
        states[row["state"]] += int(row["n"])
        availability[row["availability"]] += int(row["n"])
    total = int((await reader.rows(
        "SELECT count(*) AS n FROM citations WHERE report_id = :report", params))[0]["n"])
    sql, page = _CITATIONS, dict(params)
    if window.limit is not None:
        sql += " LIMIT :limit OFFSET :offset"
        page |= {"limit": window.limit, "offset": window.offset}
    cited = await reader.rows(sql, page)
    copies = await _copies(reader, window, params)
    return {
        "name": r["name"], "sha256": r["sha256"], "size": int(r["size"]),
        "media_type": r["media_type"], "blob_sha256": r["blob_sha256"],
        "ingested_at": rfc3339(as_utc(r["ingested_at"])), "citations": total,
        "links": sum(states.values()), "states": dict(sorted(states.items())),
        "availability": dict(sorted(availability.items())),
        "offset": window.offset if window.limit is not None else 0,
        "items": [{
            "line": c["line"], "page": c["page"], "label": c["label"], "raw_url": c["raw_url"],
            "start_seconds": c["start_seconds"], "key": c["key"], "state": c["state"],
            "availability": c["availability"], "last_message": c["last_message"],
            "copy": copies.get(c["target_id"]),
        } for c in cited],
    }


async def _copies(reader: Reader, window: Window,
                  params: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The best capture of each target the window's citations cite, by target id."""
    targets = "SELECT target_id FROM citations WHERE report_id = :report"
    bound = dict(params)
    if window.limit is not None:  # the same slice of citations as the page lists
        targets = ("SELECT target_id FROM (SELECT target_id FROM citations "
                   'WHERE report_id = :report ORDER BY "offset" LIMIT :limit OFFSET :offset) w')
        bound |= {"limit": window.limit, "offset": window.offset}
    copies: dict[int, dict[str, Any]] = {}
    for row in await reader.rows(_BEST.format(targets=targets), bound):
        copy = copies.setdefault(row["target_id"], {
            "capture_id": row["id"], "state": row["state"], "message": row["message"],
            "captured_at": rfc3339(as_utc(row["finished_at"])), "files": []})
        if row["sha256"] is not None:
            copy["files"].append({"role": row["role"], "sha256": row["sha256"],
                                  "size": int(row["size"])})
    for copy in copies.values():  # media when there is any, else the page snapshot
        if any(f["role"] == "media" for f in copy["files"]):
            copy["files"] = [f for f in copy["files"] if f["role"] == "media"]
    return copies
