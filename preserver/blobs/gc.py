"""``preserver gc --dry-run``: the blobs in the store that nothing names.

A blob is named (and never garbage) when the database records it (a report file
``reports.blob_sha256``, a capture's manifest and signature, a capture file
``files.sha256``) or a manifest names it: every recorded manifest is read, and so is
every unrecorded blob small enough to be one (1 MiB) that parses as a capture manifest
(a capture stopped between storing its manifest and recording it); such a manifest is
kept too, with everything it names. What is left was uploaded but never recorded: a
capture killed mid-way, a report whose ingest failed after its file was stored.

Listing only: nothing is deleted (deletion is not implemented; an S3 object is locked
until its retention date in any case, and the listing shows that date).

The order is what keeps a recorded blob off the list: (1) the store is listed first,
(2) then every name the database records is read in one statement (one snapshot, on
PostgreSQL too). A blob listed in (1) whose record committed before (2) is named; only
a blob whose record has not committed when (2) runs (a capture or an ingest still in
progress) can show as garbage.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col

from manifests import CaptureManifest, InvalidManifest
from preserver.archive import Archive
from preserver.db.models import Capture, CaptureFile, Report
from preserver.errors import RunError
from storage import BlobStore, StorageError

MANIFEST_MAX_BYTES = 1 << 20


@dataclass(frozen=True, kw_only=True)
class Garbage:
    """A blob nothing names: its size, and the date its Object Lock holds it until (S3)."""

    sha256: str
    size: int
    locked_until: datetime | None


@dataclass(frozen=True, kw_only=True)
class GcReport:
    """What ``gc --dry-run`` found: every blob counted once."""

    blobs: int  # in the store
    named: int  # recorded in the database, or named by a manifest
    unrecorded_manifests: tuple[str, ...]  # kept: manifests no capture records
    garbage: tuple[Garbage, ...]

    def as_dict(self) -> dict[str, object]:
        return {"blobs": self.blobs, "named": self.named,
                "unrecorded_manifests": list(self.unrecorded_manifests),
                "garbage": [{"sha256": g.sha256, "size": g.size,
                             "locked_until": g.locked_until.isoformat()
                             if g.locked_until else None} for g in self.garbage],
                "garbage_bytes": sum(g.size for g in self.garbage), "deleted": 0}


async def find_garbage(archive: Archive) -> GcReport:
    """List the blobs of ``archive.store`` that nothing names; delete nothing."""
    # (1) the store first: what is recorded by the time (2) reads is named
    blobs = await asyncio.to_thread(_list, archive.store)
    # (2) every recorded name, in one statement: one snapshot of the database
    names = sa.union_all(
        sa.select(col(Report.blob_sha256), sa.literal(False)),
        sa.select(col(CaptureFile.sha256), sa.literal(False)),
        sa.select(col(Capture.manifest_sha256), sa.literal(True)),
        sa.select(col(Capture.signature_sha256), sa.literal(False)))
    async with archive.db.session() as session:
        rows = (await session.execute(names)).all()
    named = {str(sha) for sha, _ in rows}
    manifests = {str(sha) for sha, manifest in rows if manifest}
    return await asyncio.to_thread(_scan, archive.store, blobs, named, manifests)


def _list(store: BlobStore) -> list[str]:
    try:
        return sorted(store.iter_blobs())
    except StorageError as exc:
        raise RunError(f"cannot list the blob store: {exc}") from exc


def _scan(store: BlobStore, blobs: list[str], named: set[str], manifests: set[str]) -> GcReport:
    try:
        for sha in manifests:
            named |= _names(store, sha) or set()
        unrecorded = []
        for sha in blobs:
            if sha in named or store.size(sha) > MANIFEST_MAX_BYTES:
                continue
            inside = _names(store, sha)
            if inside is not None:  # a manifest: kept, and all it names
                unrecorded.append(sha)
                named |= inside | {sha}
        garbage = tuple(Garbage(sha256=sha, size=store.size(sha), locked_until=_lock(store, sha))
                        for sha in blobs if sha not in named)
    except StorageError as exc:
        raise RunError(f"cannot list the blob store: {exc}") from exc
    return GcReport(blobs=len(blobs), named=len(blobs) - len(garbage),
                    unrecorded_manifests=tuple(unrecorded), garbage=garbage)


def _names(store: BlobStore, sha: str) -> set[str] | None:
    """The blobs manifest ``sha`` names, or None when it is not a manifest (or is missing)."""
    try:
        with store.open(sha) as fh:
            data = fh.read(MANIFEST_MAX_BYTES + 1)
        manifest = CaptureManifest.from_bytes(data)
    except (InvalidManifest, StorageError):
        return None
    return {f.sha256 for f in manifest.files}


def _lock(store: BlobStore, sha: str) -> datetime | None:
    lock_of = getattr(store, "lock_of", None)  # S3 only: a local file has no lock
    held = lock_of(sha) if lock_of is not None else None
    return held.until if held is not None else None
