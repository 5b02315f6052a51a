"""Ingest: a report file becomes citations, targets and queued capture jobs.

Ingesting the same report (same bytes) twice adds nothing, also when two processes
ingest it (or reports citing the same new links) at the same moment: a report or target
row the other inserted first is kept (``INSERT … ON CONFLICT DO NOTHING``) and read
back. The report file itself is kept in the blob store, so an evidence package can
carry it.

A report is recorded in one transaction: its row, every citation, the new targets,
their jobs and its ``report_ingested`` event are all there or, after an error or a
crash, none of them. Within it the links stream from ``iter_links`` in batches of
``BATCH``, written with multi-row INSERTs and no ORM object per link, so memory does not
grow with the report's links; what is held to the end is the sorted list of its
distinct target keys, which the custody event carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from preserver.archive import Archive
from preserver.custody.events import EventAction, record_event
from preserver.db import queue
from preserver.db.models import Capture, Citation, Report, Target, core_table, utc_now
from preserver.errors import InvalidReport, InvalidURL, RunError
from preserver.ingest.links import FoundLink, iter_links
from preserver.ingest.readers import ReportText, read_report
from preserver.ingest.readers._base import open_regular
from preserver.ingest.targets import TargetKey, canonical_target
from storage import StorageError, StoredBlob
from workers import host_group

BATCH = 2_000  # citations written per round of statements
LISTED = 100  # skipped links listed in a result; all of them are counted
_CHUNK = 500  # keys per IN (...) lookup or INSERT, well under SQLite's bound on parameters
# The core tables behind the models (SQLModel does not declare ``__table__`` to mypy).
_REPORTS = core_table(Report)
_TARGETS = core_table(Target)
_CITATIONS = core_table(Citation)
_CAPTURES = core_table(Capture)


@dataclass(frozen=True, kw_only=True)
class SkippedLink:
    line: int
    raw_url: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class IngestResult:
    report: str
    report_sha256: str
    already_ingested: bool
    citations: int
    targets: int  # distinct targets cited by this report
    new_targets: int
    queued: int
    skipped: tuple[SkippedLink, ...]  # the first LISTED
    skipped_count: int  # all of them


@dataclass(kw_only=True)
class _Tally:
    citations: int = 0
    new_targets: int = 0
    queued: int = 0
    skipped: list[SkippedLink] = field(default_factory=list)
    skipped_count: int = 0

    def resolve(self, links: Iterable[FoundLink]) -> list[tuple[FoundLink, TargetKey]]:
        """The links with their targets; those without one are counted (and listed) skipped."""
        resolved: list[tuple[FoundLink, TargetKey]] = []
        for link in links:
            try:  # extract_links found the target already, or found the URL too long
                resolved.append((link, link.target or canonical_target(link.url)))
            except InvalidURL as exc:
                self.skipped_count += 1
                if len(self.skipped) < LISTED:
                    self.skipped.append(SkippedLink(line=link.line, raw_url=link.raw_url,
                                                    reason=str(exc)))
        self.citations += len(resolved)
        return resolved


def _cites_a_target(text: ReportText) -> bool:
    """Whether a link of ``text`` has a target; stops at the first that has."""
    for link in iter_links(text.text, tables=text.tables):
        try:
            link.target or canonical_target(link.url)
        except InvalidURL:
            continue
        return True
    return False


def _batches(text: str, *, tables: tuple[int, ...]) -> Iterator[list[FoundLink]]:
    links = iter_links(text, tables=tables)
    while batch := list(islice(links, BATCH)):
        yield batch


async def ingest_report(archive: Archive, path: Path, *, require_links: bool = False
                        ) -> IngestResult:
    """Read, extract, record. Raises ``InvalidReport`` for a file that is not a report, and
    with ``require_links`` for one citing no link that has a target (``preserver ingest
    --require-links``, the web's uploads): refused before anything is stored."""
    text: ReportText = read_report(path)
    if require_links and not _cites_a_target(text):
        raise InvalidReport(f"{path}: no link in it that can be preserved: this is not a "
                            "report citing links")
    blob = _store(archive, path, text.sha256)
    # Only the links hold the text from here on: it is freed once they are recorded.
    links = _batches(text.text, tables=text.tables)
    about = replace(text, text="")  # what is recorded of the report besides its links
    del text
    tally = _Tally()
    async with archive.db.session() as session:
        now = utc_now()
        known = await session.scalar(select(Report.id).where(col(Report.sha256) == about.sha256))
        report_id = None if known is not None else await session.scalar(
            _insert_skipping(session, _REPORTS, "sha256").returning(_REPORTS.c.id),
            {"name": about.name, "sha256": about.sha256, "size": about.size,
             "media_type": about.media_type, "blob_sha256": blob.sha256, "ingested_at": now})
        if report_id is None:  # ingested before, or by another process since our look-up
            known = known or await session.scalar(
                select(Report.id).where(col(Report.sha256) == about.sha256))
            assert known is not None
            for batch in links:
                tally.resolve(batch)
            return _result(about, tally, already=True,
                           targets=await _distinct_targets(session, known))
        for batch in links:
            await _record(session, report_id, tally.resolve(batch), tally, now, about)
        keys = await _cited_keys(session, report_id)
        await record_event(session, action=EventAction.REPORT_INGESTED, subject=about.sha256,
                           operator=archive.operator,
                           details={"name": about.name, "sha256": about.sha256,
                                    "size": about.size, "citations": tally.citations,
                                    "targets": keys})
        return _result(about, tally, already=False, targets=len(keys))


def _store(archive: Archive, path: Path, sha256: str) -> StoredBlob:
    """The report file kept in the blob store, read a second time (``read_report`` does
    not hold a large file's bytes): it must be the bytes that were read, SHA-256
    ``sha256``, or the report is refused before anything is recorded (a blob stored
    meanwhile is referenced by nothing, and ``preserver gc --dry-run`` lists it)."""
    try:
        with open_regular(path) as fh:
            blob = archive.store.put_stream(fh)
    except OSError as exc:
        raise InvalidReport(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except InvalidReport as exc:
        raise InvalidReport(f"{path}: {exc}") from exc
    except StorageError as exc:
        raise RunError(f"cannot store report {path}: {exc}") from exc
    if blob.sha256 != sha256:
        raise InvalidReport(f"{path}: the file changed while it was read (SHA-256 "
                            f"{sha256[:12]}… when read, {blob.sha256[:12]}… when stored)")
    return blob


def _result(about: ReportText, tally: _Tally, *, already: bool, targets: int) -> IngestResult:
    return IngestResult(report=about.name, report_sha256=about.sha256, already_ingested=already,
                        citations=tally.citations, targets=targets,
                        new_targets=tally.new_targets, queued=tally.queued,
                        skipped=tuple(tally.skipped), skipped_count=tally.skipped_count)


async def _record(session: AsyncSession, report_id: int,
                  resolved: list[tuple[FoundLink, TargetKey]], tally: _Tally,
                  now: datetime, about: ReportText) -> None:
    """One batch: its targets (new ones inserted and queued), their jobs, its citations."""
    if not resolved:
        return  # every link of the batch skipped
    cited = {key.key: key for _, key in resolved}  # distinct, in order of citation
    known, fresh = await _target_ids(session, cited, now)
    tally.new_targets += len(fresh)
    await queue.add_jobs(session, {fresh[k]: host_group(cited[k].url) for k in fresh})
    captured = await _captured(session, list(known.values()))
    # A cited target with no complete capture and no job waiting is queued again.
    tally.queued += len(fresh) + await queue.enqueue_many(
        session, {i: host_group(cited[k].url) for k, i in known.items() if i not in captured})
    ids = known | fresh
    await session.execute(sa.insert(_CITATIONS), [
        {"report_id": report_id, "target_id": ids[key.key], "line": link.line,
         "offset": link.offset, "raw_url": link.raw_url, "label": link.label,
         "start_seconds": link.start_seconds, "page": about.page_of(link.line)}
        for link, key in resolved])


async def _target_ids(session: AsyncSession, cited: dict[str, TargetKey], now: datetime
                      ) -> tuple[dict[str, int], dict[str, int]]:
    """The ids of the cited targets: those the archive had, and those inserted now.

    A key another ingest inserted between our look-up and our INSERT is left alone by
    ``ON CONFLICT DO NOTHING`` (SQLite, PostgreSQL) and counts as one the archive had.
    """
    known: dict[str, int] = {}
    fresh: dict[str, int] = {}
    keys = list(cited)
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        known.update(await _lookup(session, chunk))
        new = [k for k in chunk if k not in known]
        if not new:
            continue
        inserted = await session.execute(
            _insert_skipping(session, _TARGETS, "key").returning(_TARGETS.c.id, _TARGETS.c.key),
            [{"key": k, "url": cited[k].url, "platform": cited[k].platform, "created_at": now,
              "next_check_at": now} for k in new])
        fresh.update((key, target_id) for target_id, key in inserted.all())
        if missing := [k for k in new if k not in fresh]:
            known.update(await _lookup(session, missing))
    return known, fresh


def _insert_skipping(session: AsyncSession, table: sa.Table, unique: str) -> Any:
    """INSERT INTO ``table`` that skips a row whose ``unique`` column is there already
    (inserted by another process, or waited for until it commits), where the database can."""
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=[unique])
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=[unique])
    return sa.insert(table)


async def _lookup(session: AsyncSession, keys: list[str]) -> dict[str, int]:
    rows = await session.execute(
        sa.select(_TARGETS.c.key, _TARGETS.c.id).where(_TARGETS.c.key.in_(keys)))
    return {key: target_id for key, target_id in rows.all()}


async def _captured(session: AsyncSession, ids: list[int]) -> set[int]:
    """Those of the targets ``ids`` that have a complete capture."""
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        found.update(await session.scalars(
            sa.select(_CAPTURES.c.target_id).where(
                _CAPTURES.c.target_id.in_(ids[start:start + _CHUNK]),
                _CAPTURES.c.state == "complete")))
    return found


async def _cited_keys(session: AsyncSession, report_id: int) -> list[str]:
    """The report's distinct target keys, sorted (by code point, as ``sorted`` does)."""
    rows = await session.stream_scalars(
        sa.select(_TARGETS.c.key).distinct()
        .join(_CITATIONS, _CITATIONS.c.target_id == _TARGETS.c.id)
        .where(_CITATIONS.c.report_id == report_id))
    keys = [key async for key in rows]
    keys.sort()
    return keys


async def _distinct_targets(session: AsyncSession, report_id: int) -> int:
    count = await session.scalar(
        sa.select(sa.func.count(sa.distinct(_CITATIONS.c.target_id)))
        .where(_CITATIONS.c.report_id == report_id))
    return int(count or 0)
