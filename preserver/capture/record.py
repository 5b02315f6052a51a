"""Recording a worker's result: manifest, signature, rows, availability, job state.

A capture is recorded (manifest v1 signed and stored as a blob, capture and
file rows, a ``capture_stored`` custody event) when it holds files or when the
platform gave a definite answer; a transient failure with nothing stored only
updates the job (and is retried). An attempt this machine could not keep (a full,
read-only or failing disk) records no capture at all, only a ``capture_failed``
custody event, and the job waits for a retry. Everything for one result is one
transaction. With ``[witness] save_page_now`` a stored capture also queues the target's
``witness`` job (``preserver.witness``), which runs apart and never holds up the capture.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from manifests import (
    CaptureManifest,
    ManifestFile,
    ManifestTarget,
    Outcome,
    agent_details,
    sanitize_collection,
    sanitize_metadata,
    sign,
)
from preserver.archive import Archive
from preserver.audit.availability import record_check
from preserver.capture import walls
from preserver.custody.events import EventAction, record_event
from preserver.db import queue
from preserver.db.models import Capture, CaptureFile, JobState, Target
from preserver.db.pauses import Pause
from preserver.errors import InvalidURL
from preserver.ingest.targets import canonical_target
from preserver.version import __version__
from preserver.witness.runner import queue_witness
from storage import StorageError
from workers import (
    CaptureResult,
    CaptureState,
    Status,
    scrub_userinfo,
    seen_as,
    without_userinfo,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class JobRecord:
    job_id: int
    target_id: int
    target_key: str
    url: str
    platform: str
    run_id: str | None = None  # the claiming run: recorded only while it holds the job
    attempt: int | None = None  # the claim's attempt number (fencing token), with run_id


def _resolved_key(url: str) -> str | None:
    """The ``facebook:<id>`` key a short Facebook link led to, if it led to one."""
    try:
        key = canonical_target(url).key
    except InvalidURL:
        return None
    return key if key.startswith("facebook:") else None


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def collection_record(run: Mapping[str, Any] | None,
                      worker: Mapping[str, Any]) -> dict[str, Any] | None:
    """A manifest's ``collection`` (docs/design.md "Collection record"): the run's record
    with the worker's parts (``page``, ``media_response``, ``browser``) under their own
    names. A worker key never replaces one of the run's (the operator, the clock …).
    None when there is neither: the manifest then has no ``collection`` member."""
    if not run and not worker:
        return None
    return {**worker, **(run or {})}


def _no_userinfo(value: Any) -> Any:
    """Every URL in every string without its userinfo: a collection record is ours, not
    the platform's content, so URLs quoted inside messages lose it too."""
    if isinstance(value, str):
        return without_userinfo(value)
    if isinstance(value, Mapping):
        return {key: _no_userinfo(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_no_userinfo(item) for item in value]
    return value


def build_manifest(archive: Archive, job: JobRecord, capture_id: str, result: CaptureResult,
                   collection: Mapping[str, Any] | None = None) -> bytes:
    """The capture manifest v1 (docs/design.md, "Capture manifest") as canonical JSON bytes;
    ``collection`` is the run's collection record, merged with ``result.collection``.

    No ``user:password@`` of a URL is signed into it (``workers.userinfo``): target URLs
    never carry one (``canonical_target`` drops it) and the metadata and the collection
    record are scrubbed again here, whoever built them.
    """
    url = without_userinfo(job.url)
    record = collection_record(collection, result.collection)
    manifest = CaptureManifest(
        capture_id=capture_id,
        target=ManifestTarget(key=job.target_key, url=url, platform=job.platform),
        requested_url=url,
        started_at=result.started_at,
        finished_at=result.finished_at,
        agent=agent_details(operator=archive.operator, software_version=__version__),
        outcome=Outcome(state=result.state.value, status=result.status.value,
                        message=result.message),
        files=tuple(ManifestFile(role=f.role, name=f.name, sha256=f.sha256, size=f.size,
                                 media_type=f.media_type) for f in result.files),
        metadata=sanitize_metadata(scrub_userinfo(result.metadata)),
        collection=None if record is None else sanitize_collection(
            _no_userinfo(scrub_userinfo(record))),
    )
    return manifest.to_bytes()


async def _record_failure(session: AsyncSession, archive: Archive, job: JobRecord,
                          attempt_id: str, result: CaptureResult) -> None:
    """The custody trail of an attempt this machine could not keep: no capture, a reason."""
    await record_event(session, action=EventAction.CAPTURE_FAILED, subject=job.target_key,
                       operator=archive.operator,
                       details={"attempt_id": attempt_id, "job_id": job.job_id,
                                "reason": "local", "message": result.message})


def _next_state(result: CaptureResult, retry_in: float | None,
                retry_delay: float) -> tuple[JobState, float | None]:
    """The job's next state, and in how many seconds it is tried again."""
    if retry_in is not None:  # again within this run
        return JobState.QUEUED, retry_in
    if result.transient:  # by a later run
        return JobState.RETRY, retry_delay
    if result.state is CaptureState.FAILED and not result.status.conclusive:
        return JobState.FAILED, None
    return JobState.DONE, None


def _store_signed(archive: Archive, manifest: bytes) -> tuple[str, str]:
    """Store ``manifest`` and its signature; their SHA-256s."""
    return (archive.store.put_bytes(manifest).sha256,
            archive.store.put_bytes(sign(archive.key, manifest)).sha256)


async def record_result(archive: Archive, job: JobRecord, result: CaptureResult, *,
                        retry_in: float | None, capture_id: str | None = None,
                        local: bool = False, io_failure: bool = False,
                        collection: Mapping[str, Any] | None = None,
                        group: str | None = None) -> str | None:
    """Record ``result`` for ``job``. Returns the manifest's SHA-256 when a capture was kept.

    ``retry_in``: the job is tried again within this run after that many seconds, so a
    transient partial result is not kept yet (the last attempt's is). ``local``: the
    failure was this machine's (disk full, interrupted, a bug), not an answer about the
    link, so it is not an availability check. ``io_failure``: the attempt failed on this
    machine's storage (``result`` is a transient failure holding no files); a
    ``capture_failed`` event records it. ``collection``: the run's collection record
    (``preserver.capture.collection``), written into the manifest. ``group``: the job's
    politeness group, whose walls count (``walls.note_result``) is kept in the same
    transaction, so a result is one commit.
    """
    capture_id = capture_id or str(uuid.uuid4())
    keep = not result.transient or (bool(result.files) and retry_in is None)
    manifest_sha: str | None = None
    signature_sha = ""
    if keep:
        data = build_manifest(archive, job, capture_id, result, collection)
        try:  # off the event loop: each blob is fsynced, and its directory
            manifest_sha, signature_sha = await asyncio.to_thread(
                _store_signed, archive, data)
        except StorageError as exc:  # nothing is recorded; the job waits for a later run
            log.error("cannot store the manifest of %s: %s", job.target_key, exc)
            keep, manifest_sha, local, retry_in, io_failure = False, None, True, None, True
            result = CaptureResult(state=CaptureState.FAILED, status=Status.ERROR,
                                   message=f"manifest not stored: {exc}", transient=True,
                                   started_at=result.started_at, finished_at=result.finished_at)
    cfg = archive.config
    started: Pause | None = None
    async with archive.db.session() as session:
        # the job first, fenced: a run that lost it (requeued while this run was cut off,
        # or taken over when its lease expired, and claimed again: the attempt moved on)
        # records nothing; its new claimant records its own result. The blobs already
        # stored stay unreferenced: content-addressed, whole, and harmless.
        state, retry_after = _next_state(result, retry_in, cfg.capture.retry_delay)
        held = await queue.finish(
            session, job.job_id, state=state, retry_in=retry_after, run_id=job.run_id,
            attempt=job.attempt,
            error=(result.message or None) if state is JobState.DONE else result.message)
        if not held:
            log.warning("result for %s refused: job %s is no longer run %s's attempt %s "
                        "(its lease expired and another worker took it over, or its run "
                        "looked dead); its new claimant records it; manifest %s left "
                        "unreferenced", job.target_key, job.job_id, job.run_id, job.attempt,
                        manifest_sha or "-")
            return None
        target = await session.get_one(Target, job.target_id)
        if target.key.startswith("facebook-url:") and result.resolved_url:
            target.resolved_key = _resolved_key(result.resolved_url) or target.resolved_key
        if keep and manifest_sha is not None:
            session.add(Capture(
                id=capture_id, target_id=job.target_id, job_id=job.job_id,
                state=result.state.value, status=result.status.value, message=result.message,
                requested_url=without_userinfo(job.url), started_at=_parse_time(result.started_at),
                finished_at=_parse_time(result.finished_at), manifest_sha256=manifest_sha,
                signature_sha256=signature_sha, key_id=archive.key.key_id,
                seen_as=seen_as(result.collection.get("access"))))
            await session.flush()
            for f in result.files:
                session.add(CaptureFile(capture_id=capture_id, role=f.role, name=f.name,
                                        sha256=f.sha256, size=f.size, media_type=f.media_type))
            await record_event(session, action=EventAction.CAPTURE_STORED, subject=job.target_key,
                               operator=archive.operator,
                               details={"capture_id": capture_id, "manifest_sha256": manifest_sha,
                                        "signature_sha256": signature_sha,
                                        "state": result.state.value,
                                        "status": result.status.value})
            await queue_witness(session, cfg, target_id=job.target_id, url=target.url)
        if io_failure:
            await _record_failure(session, archive, job, capture_id, result)
        if not local:
            await record_check(session, target, status=result.status, message=result.message,
                               probe="capture", confirmations=cfg.audit.confirmations,
                               confirm_after=cfg.audit.confirm_after, operator=archive.operator,
                               wall=result.wall)
            if group is not None:
                started = await walls.note_result(session, archive, group, result)
    if started is not None:
        walls.tell(started)
    return manifest_sha
