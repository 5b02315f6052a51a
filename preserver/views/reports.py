"""The reports in the archive, each with its links counted by state (the web's reports
page and ``/api/reports``).

A link's *state* is what the archive holds of it: its newest capture job's state while it
is queued, running or retrying, else its best capture (``complete`` over ``partial`` over
``failed``), else ``not_queued``. Its *availability* is the target's confirmed status
(``online``, ``removed``, ... ``unknown``), as ``links`` shows it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from preserver.custody.events import rfc3339
from preserver.db.reading import Reader
from preserver.db.values import CAPTURE, as_utc

# A target's state, from its capture job ``j`` (LEFT JOINed: ``JOB_OF_TARGET``) and its
# captures; the first that applies wins. An SQL expression over ``t`` (targets) and ``j``,
# shared by every view that shows a link's state (``views.report`` too). The captures are
# ranked by one correlated subquery (an index probe a target, on captures.target_id), not
# an EXISTS for each state: PostgreSQL plans three EXISTS as three scans of every capture,
# and estimates them dear enough to JIT-compile the query (half a second for 10,000 links).
STATE_OF_TARGET = """CASE
    WHEN j.state IN ('queued', 'running', 'retry') THEN j.state
    ELSE COALESCE(
      CASE (SELECT MIN(CASE k.state WHEN 'complete' THEN 1 WHEN 'partial' THEN 2 ELSE 3 END)
            FROM captures k WHERE k.target_id = t.id)
        WHEN 1 THEN 'complete' WHEN 2 THEN 'partial' WHEN 3 THEN 'failed' END,
      j.state, 'not_queued')
  END"""
# the newest capture job of ``t`` (a target has several once a later report cites it
# again without a complete capture); bind ``:kind`` to ``db.values.CAPTURE``
JOB_OF_TARGET = ("LEFT JOIN jobs j ON j.id = "
                 "(SELECT max(n.id) FROM jobs n WHERE n.target_id = t.id AND n.kind = :kind)")

_STATE = f"""
SELECT c.report_id AS report_id, t.id AS target_id, t.status AS availability,
  {STATE_OF_TARGET} AS state
FROM (SELECT DISTINCT report_id, target_id FROM citations) c
JOIN targets t ON t.id = c.target_id
{JOB_OF_TARGET}
"""


async def reports(reader: Reader) -> list[dict[str, Any]]:
    """Every report, newest first, with its citations, links, and links by state and by
    availability."""
    states: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    availability: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in await reader.rows(_STATE, {"kind": CAPTURE}):
        states[row["report_id"]][row["state"]] += 1
        availability[row["report_id"]][row["availability"]] += 1
    cited = {r["report_id"]: int(r["n"]) for r in await reader.rows(
        "SELECT report_id, count(*) AS n FROM citations GROUP BY report_id")}
    return [{
        "name": r["name"], "sha256": r["sha256"], "size": int(r["size"]),
        "media_type": r["media_type"], "ingested_at": rfc3339(as_utc(r["ingested_at"])),
        "citations": cited.get(r["id"], 0), "links": sum(states[r["id"]].values()),
        "states": dict(sorted(states[r["id"]].items())),
        "availability": dict(sorted(availability[r["id"]].items())),
    } for r in await reader.rows(
        "SELECT id, name, sha256, size, media_type, ingested_at FROM reports "
        "ORDER BY ingested_at DESC, id DESC")]
