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
``unknown``. ORM rows never leave this module: callers get frozen values.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from preserver.custody.events import EventAction, rfc3339
from preserver.db.models import Capture, CaptureFile, Citation, Event, Report, Target, utc_now
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


async def _witnessed(session: AsyncSession, keys: list[str]) -> dict[str, Witnessed]:
    """Each target's latest witness snapshot, from its ``witness_saved`` events."""
    latest: dict[str, Witnessed] = {}
    for e in (await session.scalars(select(Event).where(
            col(Event.action) == EventAction.WITNESS_SAVED, col(Event.subject).in_(keys))
            .order_by(col(Event.id)))).all():
        details = json.loads(e.body).get("details", {})
        if isinstance(details, dict):
            latest[e.subject] = Witnessed(service=str(details.get("service", "")),
                                          url=str(details.get("snapshot_url", "")),
                                          time=str(details.get("snapshot_time", "")))
    return latest


def _time(value: datetime | None) -> str | None:
    return rfc3339(value) if value is not None else None


def _counts(kinds: Iterable[str]) -> Counts:
    tally = Counter(kinds)
    return Counts(**{k: tally.get(k, 0) for k in KINDS})


def _reasons(statuses: Iterable[str]) -> tuple[tuple[str, int], ...]:
    tally = Counter(s for s in statuses if kind_of(s) == "down")
    return tuple(sorted(tally.items(), key=lambda item: (-item[1], item[0])))


def _copy(captures: list[Capture], files: dict[str, list[CaptureFile]]) -> HeldCopy | None:
    """The latest complete capture's media (or page), else the latest partial's page."""
    for held, state, roles in (("complete", "complete", ("media", "page")),
                               ("page only", "partial", ("page",))):
        for cap in sorted(captures, key=lambda c: c.finished_at, reverse=True):
            if cap.state != state:
                continue
            for role in roles:  # media when there is any, else the page snapshot
                chosen = [f for f in files.get(cap.id, []) if f.role == role]
                if chosen:
                    return HeldCopy(held=held, capture_id=cap.id,
                                    captured_at=rfc3339(cap.finished_at),
                                    files=tuple(HeldFile(role=f.role, sha256=f.sha256,
                                                         size=f.size) for f in chosen))
    return None


def _changes(events: Iterable[Event]) -> dict[str, list[tuple[datetime, str]]]:
    """Per target key, its confirmed-state changes ``(time, to)`` in order."""
    out: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for event in events:
        try:
            to = json.loads(event.body)["details"]["to"]
        except (ValueError, KeyError, TypeError):
            log.debug("availability event %s has no details.to", event.id, exc_info=True)
            continue
        out[event.subject].append((event.time, str(to)))
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


async def linkrot(session: AsyncSession, *, report: str | None,
                  now: datetime | None = None) -> LinkrotReport:
    """The link-rot report of one report (name or SHA-256 prefix) or of all of them.

    Raises ``UnknownKey`` (exit 2) when ``report`` names none.
    """
    now = now or utc_now()
    query = select(Report).order_by(col(Report.id))
    if report is not None:
        query = query.where(col(Report.id).in_(await reports_named(session, report)))
    reports = (await session.scalars(query)).all()
    report_ids = [r.id for r in reports]
    rows = (await session.execute(
        select(Citation, Target).join(Target, col(Target.id) == col(Citation.target_id))
        .where(col(Citation.report_id).in_(report_ids))
        .order_by(col(Citation.report_id), col(Citation.offset)))).all()
    targets = {t.id: t for _, t in rows}
    per_report: dict[int, dict[int, list[str]]] = defaultdict(dict)  # report -> target -> labels
    for c, t in rows:
        per_report[c.report_id].setdefault(c.target_id, []).append(c.label)
    captures: dict[int, list[Capture]] = defaultdict(list)
    for cap in (await session.scalars(select(Capture).where(
            col(Capture.target_id).in_(list(targets))))).all():
        captures[cap.target_id].append(cap)
    files: dict[str, list[CaptureFile]] = defaultdict(list)
    for f in (await session.scalars(select(CaptureFile).where(col(CaptureFile.capture_id).in_(
            [c.id for caps in captures.values() for c in caps])).order_by(col(CaptureFile.id)))):
        files[f.capture_id].append(f)
    changes = _changes((await session.scalars(
        select(Event).where(col(Event.action) == EventAction.AVAILABILITY_CHANGED,
                            col(Event.subject).in_([t.key for t in targets.values()]))
        .order_by(col(Event.id)))).all())
    witnessed = await _witnessed(session, [t.key for t in targets.values()])
    today = now.astimezone(UTC).date()

    sections = []
    for r in reports:
        assert r.id is not None
        links = []
        for target_id, labels in per_report[r.id].items():
            t = targets[target_id]
            links.append(LinkrotLink(
                key=t.key, url=t.url, labels=tuple(dict.fromkeys(labels)), status=t.status,
                kind=kind_of(t.status), since=_time(t.status_since),
                last_checked_at=_time(t.last_checked_at), last_status=t.last_status,
                copy=_copy(captures[target_id], files), witness=witnessed.get(t.key)))
        sections.append(ReportRot(
            name=r.name, sha256=r.sha256, counts=_counts(link.kind for link in links),
            down_by_reason=_reasons(link.status for link in links), links=tuple(links),
            history=_history((link.key for link in links), changes, today)))
    distinct = list(targets.values())
    return LinkrotReport(
        generated_at=rfc3339(now), reports=tuple(sections),
        totals=_counts(kind_of(t.status) for t in distinct),
        down_by_reason=_reasons(t.status for t in distinct),
        history=_history((t.key for t in distinct), changes, today))
