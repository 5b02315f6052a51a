"""Verify the archive: every blob, every manifest, every signature.

Steps (each records a finding per subject; nothing stops at the first failure):
  (1) re-hash every blob in the store, on every core (``preserver.verify.fixity``):
      its bytes must hash to its name;
  (2) for every capture: the manifest blob exists and is a valid manifest v1,
      its signature verifies with the archive's key, it names the capture it
      is recorded for, and its file list matches the recorded files;
  (3) every file a manifest lists is in the store with the listed size and a
      hash that held in step (1);
  (4) every report file is in the store;
  (5) the custody ledger against its checkpoints and timestamps
      (``preserver.verify.ledger``).
The check itself is recorded as a ``fixity_checked`` custody event.
A finding's outcome is ``passed``, ``failed`` or ``not_checked``.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlmodel import col, select

from manifests import (
    CaptureManifest,
    Finding,
    FindingOutcome,
    InvalidManifest,
    VerificationError,
    verify_signature,
)
from preserver.archive import Archive
from preserver.custody.events import EventAction, record_event
from preserver.db.models import Capture, CaptureFile, Report, Target
from preserver.verify.fixity import FixityCallback, Rehashed, rehash_blobs
from preserver.verify.ledger import verify_ledger
from storage import BlobNotFound, StorageError


async def verify_archive(archive: Archive, *, progress: FixityCallback | None = None,
                         workers: int | None = None) -> list[Finding]:
    """Run every check; ``progress`` follows step (1), the re-hash, on ``workers`` threads."""
    findings: list[Finding] = []
    store = archive.store

    # (1) fixity of every blob, re-hashed in parallel (preserver.verify.fixity);
    #     findings in address order whichever thread finished first
    blobs = await asyncio.to_thread(lambda: sorted(store.iter_blobs()))
    rehashed = await rehash_blobs(store, blobs, workers=workers, progress=progress)
    bad_blobs: set[str] = set()
    for sha in blobs:
        finding = _fixity(sha, rehashed[sha])
        if finding.outcome == FindingOutcome.FAILED:
            bad_blobs.add(sha)
        findings.append(finding)
    present = set(blobs)

    async with archive.db.session() as session:
        captures = (await session.execute(
            select(Capture, Target.key).join(Target, col(Target.id) == col(Capture.target_id))
            .order_by(col(Capture.finished_at)))).all()
        rows = (await session.scalars(select(CaptureFile))).all()
        reports = (await session.scalars(select(Report))).all()
    recorded: dict[str, list[CaptureFile]] = {}
    for row in rows:
        recorded.setdefault(row.capture_id, []).append(row)

    for capture, target_key in captures:
        findings.extend(_verify_capture(archive, capture, target_key,
                                        recorded.get(capture.id, []), present, bad_blobs))

    # (4) report files
    for report in reports:
        ok = report.blob_sha256 in present and report.blob_sha256 not in bad_blobs
        findings.append(Finding(subject=f"report {report.name}", check="present",
                                outcome=FindingOutcome.PASSED if ok else FindingOutcome.FAILED,
                                detail="" if ok else f"report blob {report.blob_sha256} missing or altered"))

    # (5) the custody ledger
    findings.extend(await verify_ledger(archive))
    async with archive.db.session() as session:
        tally = Counter(f.outcome for f in findings)
        await record_event(session, action=EventAction.FIXITY_CHECKED, subject=archive.key.key_id,
                           operator=archive.operator,
                           details={"blobs": len(blobs),
                                    **{str(outcome): tally[outcome]
                                       for outcome in FindingOutcome}})
    return findings


def _fixity(sha: str, actual: Rehashed) -> Finding:
    if isinstance(actual, StorageError):
        return Finding(subject=f"blob {sha}", check="fixity", outcome=FindingOutcome.FAILED,
                       detail=f"unreadable: {actual}")
    if actual != sha:
        return Finding(subject=f"blob {sha}", check="fixity", outcome=FindingOutcome.FAILED,
                       detail=f"content hashes to {actual}")
    return Finding(subject=f"blob {sha}", check="fixity", outcome=FindingOutcome.PASSED)


def _read(archive: Archive, sha: str) -> bytes:
    with archive.store.open(sha) as fh:
        return fh.read()


def _verify_capture(archive: Archive, capture: Capture, target_key: str,
                    rows: list[CaptureFile], present: set[str],
                    bad_blobs: set[str]) -> list[Finding]:
    subject = f"capture {capture.id} ({capture.manifest_sha256[:12]})"
    out: list[Finding] = []
    # (2) manifest and signature
    try:
        data = _read(archive, capture.manifest_sha256)
        signature = _read(archive, capture.signature_sha256)
    except (BlobNotFound, StorageError) as exc:
        return [Finding(subject=subject, check="manifest", outcome=FindingOutcome.FAILED,
                        detail=f"manifest or signature blob missing: {exc}")]
    if capture.key_id != archive.key.key_id:
        out.append(Finding(subject=subject, check="signature", outcome=FindingOutcome.FAILED,
                           detail=f"signed by key {capture.key_id[:16]}…, not the archive's "
                                  f"key {archive.key.key_id[:16]}…"))
    else:
        try:
            verify_signature(archive.key.public_key_pem, data, signature)
            out.append(Finding(subject=subject, check="signature", outcome=FindingOutcome.PASSED))
        except VerificationError as exc:
            out.append(Finding(subject=subject, check="signature", outcome=FindingOutcome.FAILED,
                               detail=str(exc)))
    try:
        manifest = CaptureManifest.from_bytes(data)
    except InvalidManifest as exc:
        out.append(Finding(subject=subject, check="manifest", outcome=FindingOutcome.FAILED,
                           detail=str(exc)))
        return out
    # the manifest and the database tell the same story
    disagree = [f"{what}: manifest {said!r}, database {recorded!r}" for what, said, recorded in (
        ("capture", manifest.capture_id, capture.id),
        ("target", manifest.target.key, target_key),
        ("state", manifest.outcome.state, capture.state),
        ("status", manifest.outcome.status, capture.status),
    ) if said != recorded]
    out.append(Finding(subject=subject, check="manifest",
                       outcome=FindingOutcome.FAILED if disagree else FindingOutcome.PASSED,
                       detail="; ".join(disagree)))
    listed = {(f.name, f.sha256, f.size) for f in manifest.files}
    db_rows = {(r.name, r.sha256, r.size) for r in rows}
    if listed != db_rows:
        out.append(Finding(subject=subject, check="files", outcome=FindingOutcome.FAILED,
                           detail=f"database and manifest disagree on {len(listed ^ db_rows)} files"))
    return out + _verify_files(archive, subject, manifest, present, bad_blobs)


def _verify_files(archive: Archive, subject: str, manifest: CaptureManifest,
                  present: set[str], bad_blobs: set[str]) -> list[Finding]:
    """(3) each file the manifest lists is in the store, unaltered, at its listed size."""
    out: list[Finding] = []
    for f in manifest.files:
        where = f"{subject} file {f.name}"
        if f.sha256 not in present:
            out.append(Finding(subject=where, check="files", outcome=FindingOutcome.FAILED,
                               detail=f"blob {f.sha256} is missing"))
        elif f.sha256 in bad_blobs:
            out.append(Finding(subject=where, check="files", outcome=FindingOutcome.FAILED,
                               detail=f"blob {f.sha256} was altered"))
        elif archive.store.size(f.sha256) != f.size:
            out.append(Finding(subject=where, check="files", outcome=FindingOutcome.FAILED,
                               detail=f"size {archive.store.size(f.sha256)} != listed {f.size}"))
        else:
            out.append(Finding(subject=where, check="files", outcome=FindingOutcome.PASSED))
    if not manifest.files:
        out.append(Finding(subject=subject, check="files", outcome=FindingOutcome.NOT_CHECKED,
                           detail="the capture holds no files"))
    return out
