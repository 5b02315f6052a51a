"""``preserver storage migrate``: copy the data directory's blobs into the S3 bucket.

For each local blob, in address order:

  (1) re-hash the local file: a blob whose bytes no longer hash to its name is not
      copied (``failed``: run ``preserver verify``), so the bucket never receives an
      altered copy under a good name;
  (2) upload it (``S3BlobStore.put_file`` with the digest just computed): the upload
      sends the SHA-256 as the object's checksum, so the server refuses bytes altered on
      the way, and writes the object under Object Lock; a blob already in the bucket is
      not sent again (``present``), which makes the command resumable and idempotent;
  (3) check the object with a ``HEAD``: its size, and its SHA-256 checksum as the bucket
      keeps it (a single-part object's is the blob's SHA-256; a multipart one's, the
      SHA-256 of its parts' digests, recomputed from the local file; failing that, the
      object is read back and re-hashed), and that it has a retention date.

Nothing local is deleted: once ``[storage] backend = "s3"`` is set, ``verify`` reads the
bucket, and the local ``blobs/`` can be removed by hand.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from preserver.archive import open_store
from preserver.config import Config
from preserver.errors import InputError, RunError
from storage import (
    DigestMismatch,
    KnownDigest,
    LocalBlobStore,
    S3BlobStore,
    StorageError,
    hash_stream,
)

COPIED, PRESENT, FAILED = "copied", "present", "failed"

#: called after each blob: (blobs done, blobs in all, address, outcome, detail)
MigrateProgress = Callable[[int, int, str, str, str], None]


@dataclass(frozen=True, kw_only=True)
class MigrateSummary:
    """Counts by outcome, and each failure's address with its reason."""

    source: str
    target: str
    copied: int = 0
    present: int = 0
    bytes_copied: int = 0
    failures: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "target": self.target, "copied": self.copied,
                "present": self.present, "bytes_copied": self.bytes_copied,
                "failed": len(self.failures),
                "failures": [{"sha256": s, "detail": d} for s, d in self.failures]}


def migrate_blobs(config: Config, *, progress: MigrateProgress | None = None) -> MigrateSummary:
    """Copy every blob of ``config``'s data directory into its ``[storage]`` bucket."""
    if config.storage.backend != "s3":
        raise InputError('storage migrate copies the local blobs into a bucket: set '
                         '[storage] backend = "s3" and its bucket first')
    try:
        source = LocalBlobStore(config.blobs_dir, config.tmp_dir, read_only=True)
        target = open_store(config)
    except StorageError as exc:
        raise RunError(str(exc)) from exc
    assert isinstance(target, S3BlobStore)
    try:
        blobs = sorted(source.iter_blobs())
    except StorageError as exc:
        raise RunError(str(exc)) from exc
    counts = {COPIED: 0, PRESENT: 0}
    copied_bytes, failures = 0, []
    for done, sha in enumerate(blobs, 1):
        try:
            outcome, size = _copy_one(source, target, sha)
            counts[outcome] += 1
            copied_bytes += size if outcome == COPIED else 0
            detail = ""
        except StorageError as exc:
            outcome, detail = FAILED, str(exc)
            failures.append((sha, detail))
        if progress is not None:
            progress(done, len(blobs), sha, outcome, detail)
    return MigrateSummary(source=str(config.blobs_dir), target=target.settings.where,
                          copied=counts[COPIED], present=counts[PRESENT],
                          bytes_copied=copied_bytes, failures=tuple(failures))


def _copy_one(source: LocalBlobStore, target: S3BlobStore, sha: str) -> tuple[str, int]:
    path = source.path_of(sha)
    # (1) the local bytes still hash to their name, and the file is this one
    with source.open(sha) as fh:
        before = os.fstat(fh.fileno())
        actual, size = hash_stream(fh)
    if actual != sha:
        raise DigestMismatch(expected=sha, actual=actual, size=size)  # not copied
    known = KnownDigest(sha256=sha, size=size, device=before.st_dev, inode=before.st_ino,
                        mtime_ns=before.st_mtime_ns, ctime_ns=before.st_ctime_ns)
    # (2) upload, checksummed and locked; already there: not sent again
    created = target.put_file(str(path), known=known).created
    # (3) what the bucket holds: size, checksum, lock
    target.check_copy(sha, path)
    return (COPIED if created else PRESENT), size
