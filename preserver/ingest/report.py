"""Ingest: a report file becomes citations, targets and queued capture jobs.

Ingesting the same report (same bytes) twice adds nothing. The report file
itself is kept in the blob store, so an evidence package can carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from preserver.archive import Archive
from preserver.custody.events import EventAction, record_event
from preserver.db import queue
from preserver.db.models import Capture, Citation, Report, Target, utc_now
from preserver.errors import InvalidReport, InvalidURL, RunError
from preserver.ingest.links import FoundLink, extract_links
from preserver.ingest.readers import ReportText, read_report
from preserver.ingest.targets import TargetKey, canonical_target
from storage import StorageError
from workers import host_group

_CHUNK = 500  # keys per IN (...) lookup, well under SQLite's bound on parameters


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
    skipped: tuple[SkippedLink, ...]


def _resolve(found: list[FoundLink]) -> tuple[list[tuple[FoundLink, TargetKey]], list[SkippedLink]]:
    resolved: list[tuple[FoundLink, TargetKey]] = []
    skipped: list[SkippedLink] = []
    for link in found:
        try:
            resolved.append((link, canonical_target(link.url)))
        except InvalidURL as exc:
            skipped.append(SkippedLink(line=link.line, raw_url=link.raw_url, reason=str(exc)))
    return resolved, skipped


async def _has_complete_capture(session: AsyncSession, target_id: int) -> bool:
    found = await session.scalar(
        select(Capture.id)
        .where(col(Capture.target_id) == target_id, col(Capture.state) == "complete")
        .limit(1))
    return found is not None


async def _known_targets(session: AsyncSession, keys: list[str]) -> dict[str, Target]:
    """The archive's targets among ``keys``, looked up in chunks (a report may cite 10,000)."""
    found: dict[str, Target] = {}
    for start in range(0, len(keys), _CHUNK):
        rows = await session.scalars(
            select(Target).where(col(Target.key).in_(keys[start:start + _CHUNK])))
        found.update((t.key, t) for t in rows)
    return found


async def ingest_report(archive: Archive, path: Path) -> IngestResult:
    """Read, extract, record. Raises ``InvalidReport`` for a file that is not a report."""
    text: ReportText = read_report(path)
    resolved, skipped = _resolve(extract_links(text.text))
    try:
        with path.open("rb") as fh:
            blob = archive.store.put_stream(fh)
    except OSError as exc:
        raise InvalidReport(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except StorageError as exc:
        raise RunError(f"cannot store report {path}: {exc}") from exc

    async with archive.db.session() as session:
        report = await session.scalar(select(Report).where(col(Report.sha256) == text.sha256))
        if report is not None:
            distinct = {t.key for _, t in resolved}
            return IngestResult(report=report.name, report_sha256=text.sha256,
                                already_ingested=True, citations=len(resolved),
                                targets=len(distinct), new_targets=0, queued=0,
                                skipped=tuple(skipped))
        now = utc_now()
        report = Report(name=text.name, sha256=text.sha256, size=text.size,
                        media_type=text.media_type, blob_sha256=blob.sha256, ingested_at=now)
        session.add(report)
        await session.flush()
        assert report.id is not None
        cited = {key.key: key for _, key in resolved}  # distinct, in order of citation
        known = await _known_targets(session, list(cited))
        fresh = {k: Target(key=k, url=key.url, platform=key.platform, created_at=now,
                           next_check_at=now) for k, key in cited.items() if k not in known}
        session.add_all(fresh.values())
        await session.flush()  # one multi-row INSERT: ids for the citations and jobs
        targets = {k: known.get(k) or fresh[k] for k in cited}  # in order of citation
        ids = {k: t.id for k, t in targets.items() if t.id is not None}
        queued = 0
        for k, target_id in ids.items():
            host = host_group(cited[k].url)
            if k in fresh:  # a new target has no capture and no job yet
                queue.add_job(session, target_id=target_id, host=host)
                queued += 1
            elif not await _has_complete_capture(session, target_id) and await queue.enqueue(
                    session, target_id=target_id, host=host):
                queued += 1
        session.add_all(Citation(report_id=report.id, target_id=ids[key.key],
                                 line=link.line, offset=link.offset, raw_url=link.raw_url,
                                 label=link.label, start_seconds=link.start_seconds)
                        for link, key in resolved)
        await record_event(session, action=EventAction.REPORT_INGESTED, subject=text.sha256,
                           operator=archive.operator,
                           details={"name": text.name, "sha256": text.sha256, "size": text.size,
                                    "citations": len(resolved), "targets": sorted(targets)})
        return IngestResult(report=text.name, report_sha256=text.sha256, already_ingested=False,
                            citations=len(resolved), targets=len(targets),
                            new_targets=len(fresh), queued=queued, skipped=tuple(skipped))
