"""The link-rot report: per report, which cited links are up, down (and why),
restricted or unknown, since when, and whether the archive holds a copy.

A link's *kind* follows its confirmed state (docs/design.md "Availability statuses"):
``up``, ``down``, ``restricted``; a target never checked, or only inconclusively,
is ``unknown``. For each link we report the latest *complete* capture's media
files (for a page-only target, its page WARC) as the copy held; failing that, the
latest *partial* capture's page WARC as ``page only``; a down or restricted link
without a complete capture is ``lost``.

Status over time is exact: it replays the ``availability_changed`` custody events
(the only way a target's confirmed state changes) and counts, at the end of each
UTC day, the links of a report in each kind. A link before its first change is
``unknown``. The queries are plain SQL through ``db.reading`` (docs/design.md "The read
path"); callers get frozen values.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from preserver.custody.events import EventAction, rfc3339
from preserver.db.reading import Reader, Row, in_list
from preserver.db.values import as_utc, utc_now
from preserver.views.targets import reports_named
from workers import Status

log = logging.getLogger(__name__)

KINDS = ("up", "down", "restricted", "unknown")


def kind_of(status: str) -> str:
    """``up``, ``down``, ``restricted`` or ``unknown`` (inconclusive and never checked)."""
    try:
        kind = Status(status).kind
    except ValueError:
        return "unknown"
    return "unknown" if kind == "inconclusive" else kind


@dataclass(frozen=True, kw_only=True)
class HeldFile:
    role: str
    sha256: str
    size: int


@dataclass(frozen=True, kw_only=True)
class HeldCopy:
    """What the archive holds of a link: ``complete`` media, or the ``page only``."""

    held: str  # "complete" | "page only"
    capture_id: str
    captured_at: str
    files: tuple[HeldFile, ...]


@dataclass(frozen=True, kw_only=True)
class Witnessed:
    """The latest snapshot an independent witness holds of a link (docs/design.md
    "Independent witness"): recorded by a ``witness_saved`` custody event."""

    service: str  # "web.archive.org"
    url: str  # the snapshot's own URL
    time: str  # when the witness captured it (UTC)


@dataclass(frozen=True, kw_only=True)
class LinkrotLink:
    key: str
    url: str
    labels: tuple[str, ...]  # the citations' labels in this report (untrusted text)
    status: str  # the confirmed state
    kind: str
    since: str | None  # when the confirmed state began
    last_checked_at: str | None
    last_status: str | None  # the latest check's result, conclusive or not
    copy: HeldCopy | None
    witness: Witnessed | None = None

    @property
    def lost(self) -> bool:
        """Down or restricted, and no complete capture held."""
        return self.kind in ("down", "restricted") and (
            self.copy is None or self.copy.held != "complete")


@dataclass(frozen=True, kw_only=True)
class Counts:
    up: int = 0
    down: int = 0
    restricted: int = 0
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.up + self.down + self.restricted + self.unknown


@dataclass(frozen=True, kw_only=True)
class DayCounts:
    day: str  # YYYY-MM-DD (UTC), counted at the end of the day
    counts: Counts


@dataclass(frozen=True, kw_only=True)
class ReportRot:
    name: str
    sha256: str
    counts: Counts
    down_by_reason: tuple[tuple[str, int], ...]  # (status, links), most first
    links: tuple[LinkrotLink, ...]
    history: tuple[DayCounts, ...]


@dataclass(frozen=True, kw_only=True)
class LinkrotReport:
    generated_at: str
    reports: tuple[ReportRot, ...]
    totals: Counts  # distinct targets over all reports shown
    down_by_reason: tuple[tuple[str, int], ...]
    history: tuple[DayCounts, ...]


async def _witnessed(reader: Reader, of_keys: str,
                     params: dict[str, Any]) -> dict[str, Witnessed]:
    """Each target's latest witness snapshot, from its ``witness_saved`` events."""
    latest: dict[str, Witnessed] = {}
    for e in await reader.rows(f"SELECT subject, body FROM events WHERE action = :action "
                               f"AND subject IN ({of_keys}) ORDER BY id",
                               params | {"action": EventAction.WITNESS_SAVED.value}):
        details = json.loads(e["body"]).get("details", {})
        if isinstance(details, dict):
            latest[e["subject"]] = Witnessed(service=str(details.get("service", "")),
                                             url=str(details.get("snapshot_url", "")),
                                             time=str(details.get("snapshot_time", "")))
    return latest


def _time(value: datetime | str | None) -> str | None:
    return rfc3339(as_utc(value)) if value is not None else None


def _counts(kinds: Iterable[str]) -> Counts:
    tally = Counter(kinds)
    return Counts(**{k: tally.get(k, 0) for k in KINDS})


def _reasons(statuses: Iterable[str]) -> tuple[tuple[str, int], ...]:
    tally = Counter(s for s in statuses if kind_of(s) == "down")
    return tuple(sorted(tally.items(), key=lambda item: (-item[1], item[0])))


def _copy(captures: list[Row], files: dict[str, list[Row]]) -> HeldCopy | None:
    """The latest complete capture's media (or page), else the latest partial's page."""
    for held, state, roles in (("complete", "complete", ("media", "page")),
                               ("page only", "partial", ("page",))):
        for cap in sorted(captures, key=lambda c: as_utc(c["finished_at"]), reverse=True):
            if cap["state"] != state:
                continue
            for role in roles:  # media when there is any, else the page snapshot
                chosen = [f for f in files.get(cap["id"], []) if f["role"] == role]
                if chosen:
                    return HeldCopy(held=held, capture_id=cap["id"],
                                    captured_at=rfc3339(as_utc(cap["finished_at"])),
                                    files=tuple(HeldFile(role=f["role"], sha256=f["sha256"],
                                                         size=f["size"]) for f in chosen))
    return None


def _changes(events: Iterable[Row]) -> dict[str, list[tuple[datetime, str]]]:
    """Per target key, its confirmed-state changes ``(time, to)`` in order."""
    out: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for event in events:
        try:
            to = json.loads(event["body"])["details"]["to"]
        except (ValueError, KeyError, TypeError):
            log.debug("availability event %s has no details.to", event["id"], exc_info=True)
            continue
        out[event["subject"]].append((as_utc(event["time"]), str(to)))
    return out


def _history(keys: Iterable[str], changes: dict[str, list[tuple[datetime, str]]],
             today: date) -> tuple[DayCounts, ...]:
    """Links in each kind at the end of every UTC day, from the first change to today."""
    keys = list(keys)
    moments = [t for k in keys for t, _ in changes.get(k, [])]
    if not moments:
        return ()
    first = min(moments).astimezone(UTC).date()
    last = max(today, max(moments).astimezone(UTC).date())
    days = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        kinds = []
        for key in keys:
            state = "unknown"
            for moment, to in changes.get(key, []):
                if moment >= end:
                    break
                state = to
            kinds.append(kind_of(state))
        days.append(DayCounts(day=day.isoformat(), counts=_counts(kinds)))
    return tuple(days)


async def linkrot(reader: Reader, *, report: str | None,
                  now: datetime | None = None) -> LinkrotReport:
    """The link-rot report of one report (name or SHA-256 prefix) or of all of them.

    Raises ``UnknownKey`` (exit 2) when ``report`` names none.
    """
    now = now or utc_now()
    where, params = "1 = 1", dict[str, Any]()
    if report is not None:
        ids, params = in_list("report", await reports_named(reader, report))
        where = f"id IN {ids}"
    reports = await reader.rows(f"SELECT id, name, sha256 FROM reports WHERE {where} "
                                "ORDER BY id", params)
    of_reports = f"SELECT id FROM reports WHERE {where}"
    rows = await reader.rows(
        "SELECT c.report_id, c.target_id, c.label, t.key, t.url, t.status, t.status_since, "
        "t.last_checked_at, t.last_status FROM citations c JOIN targets t ON t.id = c.target_id "
        f"WHERE c.report_id IN ({of_reports}) ORDER BY c.report_id, c.\"offset\"", params)
    targets = {r["target_id"]: r for r in rows}
    per_report: dict[int, dict[int, list[str]]] = defaultdict(dict)  # report -> target -> labels
    for r in rows:
        per_report[r["report_id"]].setdefault(r["target_id"], []).append(r["label"])
    of_targets = f"SELECT target_id FROM citations WHERE report_id IN ({of_reports})"
    captures, files = await _held(reader, of_targets, params)
    of_keys = f"SELECT key FROM targets WHERE id IN ({of_targets})"
    changes = _changes(await reader.rows(
        f"SELECT id, time, subject, body FROM events WHERE action = :action "
        f"AND subject IN ({of_keys}) ORDER BY id",
        params | {"action": EventAction.AVAILABILITY_CHANGED.value}))
    witnessed = await _witnessed(reader, of_keys, params)
    today = now.astimezone(UTC).date()

    sections = []
    for r in reports:
        links = []
        for target_id, labels in per_report[r["id"]].items():
            t = targets[target_id]
            links.append(LinkrotLink(
                key=t["key"], url=t["url"], labels=tuple(dict.fromkeys(labels)),
                status=t["status"], kind=kind_of(t["status"]), since=_time(t["status_since"]),
                last_checked_at=_time(t["last_checked_at"]), last_status=t["last_status"],
                copy=_copy(captures[target_id], files), witness=witnessed.get(t["key"])))
        sections.append(ReportRot(
            name=r["name"], sha256=r["sha256"], counts=_counts(link.kind for link in links),
            down_by_reason=_reasons(link.status for link in links), links=tuple(links),
            history=_history((link.key for link in links), changes, today)))
    distinct = list(targets.values())
    return LinkrotReport(
        generated_at=rfc3339(now), reports=tuple(sections),
        totals=_counts(kind_of(t["status"]) for t in distinct),
        down_by_reason=_reasons(t["status"] for t in distinct),
        history=_history((t["key"] for t in distinct), changes, today))


async def _held(reader: Reader, of_targets: str, params: dict[str, Any],
                ) -> tuple[dict[int, list[Row]], dict[str, list[Row]]]:
    """The captures of the targets ``of_targets`` selects, and their files by capture."""
    captures: dict[int, list[Row]] = defaultdict(list)
    for cap in await reader.rows("SELECT id, target_id, state, finished_at FROM captures "
                                 f"WHERE target_id IN ({of_targets})", params):
        captures[cap["target_id"]].append(cap)
    files: dict[str, list[Row]] = defaultdict(list)
    for f in await reader.rows(
            "SELECT capture_id, role, sha256, size FROM files WHERE capture_id IN "
            f"(SELECT id FROM captures WHERE target_id IN ({of_targets})) ORDER BY id", params):
        files[f["capture_id"]].append(f)
    return captures, files
