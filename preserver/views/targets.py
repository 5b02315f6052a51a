"""Read-only questions about the archive, answered as plain data.

``links`` produces the objects of the ``links --json`` contract (docs/design.md "links --json");
``show`` one target in full, with each capture's collection record read from its
signed manifest; ``status`` counts; ``lookup`` finds files by
SHA-256. ORM rows never leave this module: callers get dicts and frozen views.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from manifests import CaptureManifest, ManifestError
from preserver.archive import free_space
from preserver.config import Config
from preserver.custody.events import EventAction, rfc3339
from preserver.db import pauses, queue
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
    Target,
)
from preserver.errors import UnknownKey
from storage import BlobStore, StorageError

MAX_MANIFEST_BYTES = 16 << 20  # larger is not a manifest preserver wrote


def _time(value: Any) -> str | None:
    return rfc3339(value) if value is not None else None


async def reports_named(session: AsyncSession, report: str) -> list[int]:
    """Report ids matching a name, a path's basename, or a SHA-256 (prefix of 8+ hex)."""
    name = report.rsplit("/", 1)[-1]
    rows = await session.execute(select(Report.id, Report.name, Report.sha256))
    ids = [rid for rid, rname, sha in rows.all()
           if rname == name or (len(report) >= 8 and sha.startswith(report.lower()))]
    if not ids:
        raise UnknownKey(f"no report named {report!r} in the archive (see `preserver status`)")
    return ids


async def links(session: AsyncSession, *, report: str | None = None,
                target_keys: list[str] | None = None) -> list[dict[str, Any]]:
    """One object per target, with its citations and captures (``links --json``)."""
    query = select(Target).order_by(col(Target.id))
    citation_filter = None
    if report is not None:
        report_ids = await reports_named(session, report)
        citation_filter = col(Citation.report_id).in_(report_ids)
        query = query.where(col(Target.id).in_(
            select(Citation.target_id).where(citation_filter)))
    if target_keys is not None:
        query = query.where(col(Target.key).in_(target_keys))
    targets = (await session.scalars(query)).all()
    ids = [t.id for t in targets]
    cites: dict[int, list[dict[str, Any]]] = defaultdict(list)
    cq = (select(Citation, Report).join(Report, col(Report.id) == col(Citation.report_id))
          .where(col(Citation.target_id).in_(ids))
          .order_by(col(Report.id), col(Citation.offset)))
    if citation_filter is not None:
        cq = cq.where(citation_filter)
    for c, r in (await session.execute(cq)).all():
        cites[c.target_id].append({
            "report": r.name, "report_sha256": r.sha256, "line": c.line, "label": c.label,
            "raw_url": c.raw_url, "start_seconds": c.start_seconds})
    caps: dict[int, list[dict[str, Any]]] = defaultdict(list)
    capture_rows = (await session.scalars(
        select(Capture).where(col(Capture.target_id).in_(ids))
        .order_by(col(Capture.finished_at)))).all()
    files: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in (await session.scalars(select(CaptureFile).where(
            col(CaptureFile.capture_id).in_([cap.id for cap in capture_rows]))
            .order_by(col(CaptureFile.id)))).all():
        files[f.capture_id].append({"role": f.role, "name": f.name, "sha256": f.sha256,
                                    "size": f.size, "media_type": f.media_type})
    for cap in capture_rows:
        caps[cap.target_id].append({
            "id": cap.id, "state": cap.state, "status": cap.status, "message": cap.message,
            "started_at": _time(cap.started_at), "finished_at": _time(cap.finished_at),
            "manifest_sha256": cap.manifest_sha256, "signature_sha256": cap.signature_sha256,
            "seen_as": cap.seen_as, "files": files[cap.id]})
    jobs = {j.target_id: j for j in (await session.scalars(
        select(Job).where(col(Job.target_id).in_(ids), col(Job.kind) == queue.CAPTURE)
        .order_by(col(Job.id)))).all()}
    out = []
    for t in targets:
        assert t.id is not None
        job = jobs.get(t.id)
        out.append({
            "key": t.key, "url": t.url, "platform": t.platform, "status": t.status,
            "resolved_key": t.resolved_key,
            "status_since": _time(t.status_since),
            "last_check": None if t.last_checked_at is None else {
                "status": t.last_status, "message": t.last_message,
                "checked_at": _time(t.last_checked_at)},
            "job": None if job is None else {"state": job.state, "attempts": job.attempts,
                                             "last_error": job.last_error},
            "citations": cites[t.id], "captures": caps[t.id]})
    return out


def collection_of(store: BlobStore, manifest_sha256: str) -> dict[str, Any] | None:
    """The ``collection`` member of a capture's manifest (docs/design.md "Collection
    record"); None when the manifest has none (written before it existed) or cannot be
    read (``preserver verify`` says why)."""
    try:
        if store.size(manifest_sha256) > MAX_MANIFEST_BYTES:
            return None
        with store.open(manifest_sha256) as fh:
            return CaptureManifest.from_bytes(fh.read(MAX_MANIFEST_BYTES)).collection
    except (StorageError, OSError, ManifestError):
        return None


async def show(session: AsyncSession, key: str, *,
               store: BlobStore | None = None) -> dict[str, Any]:
    """One target in full: ``links`` object plus checks and custody events; with
    ``store``, each capture's ``collection`` record (read from its signed manifest)."""
    found = await links(session, target_keys=[key])
    if not found:
        # accept a capture id or a manifest hash as well
        target_key = await session.scalar(
            select(Target.key).join(Capture, col(Capture.target_id) == col(Target.id))
            .where(sa.or_(col(Capture.id) == key, col(Capture.manifest_sha256) == key.lower())))
        if target_key is None:
            raise UnknownKey(f"no target, capture id or manifest named {key!r}")
        found = await links(session, target_keys=[target_key])
    item = found[0]
    target = await session.scalar(select(Target).where(col(Target.key) == item["key"]))
    assert target is not None
    checks = (await session.scalars(
        select(AvailabilityCheck).where(col(AvailabilityCheck.target_id) == target.id)
        .order_by(col(AvailabilityCheck.checked_at)))).all()
    item["checks"] = [{"checked_at": _time(c.checked_at), "status": c.status, "probe": c.probe,
                       "http_status": c.http_status, "message": c.message} for c in checks]
    subjects = [item["key"], *[c["id"] for c in item["captures"]]]
    events = (await session.scalars(
        select(Event).where(col(Event.subject).in_(subjects)).order_by(col(Event.id)))).all()
    item["events"] = [{"id": e.id, "time": _time(e.time), "action": e.action} for e in events]
    item["witness"] = await _witness(session, target.id, events)
    if store is not None:
        for capture in item["captures"]:
            capture["collection"] = collection_of(store, capture["manifest_sha256"])
    return item


async def _witness(session: AsyncSession, target_id: int | None,
                   events: Sequence[Event]) -> dict[str, Any]:
    """The independent witness of a target (docs/design.md "Independent witness"): its
    Save Page Now snapshots (from the ``witness_saved`` events) and its last witness job."""
    snapshots = []
    for e in events:
        if e.action != EventAction.WITNESS_SAVED:
            continue
        details = json.loads(e.body).get("details", {})
        snapshots.append({"url": details.get("snapshot_url"),
                          "time": details.get("snapshot_time"),
                          "service": details.get("service"), "recorded_at": _time(e.time)})
    job = await session.scalar(select(Job).where(
        col(Job.target_id) == target_id, col(Job.kind) == queue.WITNESS)
        .order_by(col(Job.id).desc()).limit(1))
    return {"snapshots": snapshots, "job": None if job is None else {
        "state": job.state, "attempts": job.attempts, "last_error": job.last_error,
        "run_after": _time(job.run_after)}}


async def status(session: AsyncSession, *, config: Config | None = None) -> dict[str, Any]:
    """Counts of everything; with ``config``, also ``disk``: the free space captures have
    (``archive.FreeSpace.as_dict``; ``low`` when a ``max_bytes`` capture would not fit)."""
    async def grouped(column: Any) -> dict[str, int]:
        rows = await session.execute(sa.select(column, sa.func.count()).group_by(column))
        return {str(k): int(n) for k, n in rows.all()}

    totals = await session.execute(sa.select(sa.func.count(col(CaptureFile.id)),
                                             sa.func.coalesce(sa.func.sum(CaptureFile.size), 0)))
    nfiles, nbytes = totals.one()
    return {
        "reports": int(await session.scalar(sa.select(sa.func.count(col(Report.id)))) or 0),
        "citations": int(await session.scalar(sa.select(sa.func.count(col(Citation.id)))) or 0),
        "targets": await grouped(Target.platform),
        "availability": await grouped(Target.status),
        "captures": await grouped(Capture.state),
        "jobs": await queue.counts(session),
        "witness_jobs": await queue.counts(session, kind=queue.WITNESS),
        "files": int(nfiles), "bytes": int(nbytes),
        "ledger": await _ledger_status(session),
        "paused": [p.as_dict() for p in await pauses.active(session)],
    } | ({"disk": free_space(config).as_dict()} if config is not None else {})


async def _ledger_status(session: AsyncSession) -> dict[str, Any]:
    """Events in the custody ledger, its last checkpoint, and timestamps still pending."""
    events = int(await session.scalar(sa.select(sa.func.count(col(Event.id)))) or 0)
    last = await session.scalar(select(CheckpointRow).order_by(col(CheckpointRow.size).desc()).limit(1))
    pending = (await session.scalars(select(CheckpointRow.size).where(
        col(CheckpointRow.timestamps_pending)).order_by(col(CheckpointRow.size)))).all()
    stamps = int(await session.scalar(sa.select(sa.func.count(col(CheckpointTimestamp.id))))
                 or 0)
    return {
        "events": events,
        "checkpoint": None if last is None else {
            "size": last.size, "root": last.root, "created_at": _time(last.created_at)},
        "timestamps": stamps,
        "timestamps_pending_for": list(pending),
    }


async def lookup(session: AsyncSession, sha256: str) -> list[dict[str, Any]]:
    """Every archived file with this SHA-256, with its capture, target and citations."""
    rows = (await session.execute(
        select(CaptureFile, Capture, Target)
        .join(Capture, col(Capture.id) == col(CaptureFile.capture_id))
        .join(Target, col(Target.id) == col(Capture.target_id))
        .where(col(CaptureFile.sha256) == sha256).order_by(col(Capture.finished_at)))).all()
    if not rows:
        return []
    cites = {t["key"]: t["citations"] for t in await links(
        session, target_keys=sorted({t.key for _, _, t in rows}))}
    return [{"name": f.name, "role": f.role, "size": f.size, "media_type": f.media_type,
             "capture_id": c.id, "captured_at": _time(c.finished_at),
             "manifest_sha256": c.manifest_sha256, "target": t.key, "url": t.url,
             "citations": cites.get(t.key, [])} for f, c, t in rows]


async def jobs_to_run(session: AsyncSession) -> int:
    """How many capture jobs a run would take on now: queued, retrying or running."""
    counts = await queue.counts(session)
    return sum(counts.get(state, 0) for state in (JobState.QUEUED, JobState.RETRY,
                                                    JobState.RUNNING))
