"""The S3-compatible blob store: every blob an object under Object Lock in one bucket.

Layout, mirroring the local store's (docs/design.md "Blob store")::

    s3://<bucket>/<prefix>sha256/ab/cd/<64 hex>    one object per distinct content
    <tmp_dir>/s3-*.partial                         streams being spooled before upload

The key is the content's SHA-256, so a stream is first spooled to a local temporary file
and hashed as it is (bounded memory, the file removed on every path), then uploaded from
that file; a file is hashed where it lies, or its writer's ``KnownDigest`` is taken while
the file is provably unchanged. The upload itself (``storage._s3_upload``) re-hashes what it
sends and sends the SHA-256 as the object's S3 checksum, so neither a file changed since
it was hashed nor bytes altered on the wire become a blob under a wrong name. Every object
is written with Object Lock (``COMPLIANCE`` or ``GOVERNANCE`` until now + ``retention``):
the bucket refuses to delete or overwrite that version until then. The bucket must have
Object Lock enabled (and so versioning); a writable store checks that when it opens.

Reads stream: ``open`` returns the object's body behind a buffered reader, ``rehash``
hashes it chunk by chunk, ``iter_blobs`` pages through the listing. Credentials come from
boto3's standard chain. No botocore exception leaves the store (``storage._s3_client``).

    >>> store = S3BlobStore(S3Settings(bucket="evidence", endpoint_url="http://127.0.0.1:9000"),
    ...                     data_dir / "tmp")
    >>> blob = store.put_bytes(b"evidence")
    >>> store.open(blob.sha256).read()
    b'evidence'
"""

from __future__ import annotations

import io
import os
import tempfile
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

from botocore.exceptions import ClientError

from storage._base import BUFFER_SIZE, KnownDigest, StoredBlob, check_address, is_address
from storage._reader import HashingReader
from storage._s3_client import S3Settings, error_code, make_client, s3_errors
from storage._s3_memory import BUFFERED_PARTS, PartBudget
from storage._s3_upload import b64, composite_checksum, head, upload
from storage._stale import hold_and_sweep
from storage._window import check_range
from storage.errors import BlobTooLarge, DigestMismatch, SourceUnreadable, StorageUnavailable

__all__ = ["BlobLock", "BucketStatus", "S3BlobStore", "S3Settings"]

LIST_PAGE_SIZE = 1000  # keys per ListObjectsV2 page (S3's most)
_TMP_PREFIX = "s3-"
_TMP_SUFFIX = ".partial"


@dataclass(frozen=True, kw_only=True)
class BlobLock:
    """An object's Object Lock: its mode and the date before which it cannot be deleted."""

    mode: str
    until: datetime


@dataclass(frozen=True, kw_only=True)
class BucketStatus:
    """What ``preserver doctor`` shows of the bucket: versioning and Object Lock state."""

    where: str
    versioning: str  # "Enabled", "Suspended" or "" (never enabled)
    object_lock: bool


class _ObjectReader(io.RawIOBase):
    """An object's body as a raw binary file; a failed read is ``StorageUnavailable``."""

    def __init__(self, body: Any, settings: S3Settings, sha256: str) -> None:
        self._body, self._settings, self._sha256 = body, settings, sha256

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        with s3_errors(self._settings, "read", sha256=self._sha256):
            data = self._body.read(len(view))
        view[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3BlobStore:
    """Blobs as locked objects named by their SHA-256 in ``settings.bucket``.

    Opening checks that the bucket is there and the credentials are accepted (a
    ``HeadBucket``); a writable store also that the bucket has Object Lock enabled, and
    spools streams in ``tmp_dir`` (created if missing). ``read_only=True`` opens for
    reading: no temporary directory, every write raises ``StorageUnavailable``.
    ``clock`` gives the moment a retention starts (UTC).
    """

    def __init__(self, settings: S3Settings, tmp_dir: Path, *, read_only: bool = False,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.tmp_dir = Path(tmp_dir)
        self.read_only = read_only
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client = make_client(settings)
        # every upload's buffers, across the threads putting at once (``_s3_memory``)
        self.part_budget = PartBudget(BUFFERED_PARTS * settings.part_size)
        self._prefix = f"{settings.key_prefix}sha256/"
        with s3_errors(settings, "open"):
            self._client.head_bucket(Bucket=settings.bucket)
        if read_only:
            return
        if not self.bucket_status().object_lock:
            raise StorageUnavailable(f"bucket {settings.where} does not have Object Lock "
                                     "enabled: enable it (with versioning) or use another "
                                     "bucket")
        try:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            lock = hold_and_sweep(self.tmp_dir, _TMP_PREFIX, _TMP_SUFFIX)
        except OSError as exc:
            raise StorageUnavailable(f"cannot use the temporary directory {self.tmp_dir}: "
                                     f"{exc.strerror or exc}") from exc
        weakref.finalize(self, os.close, lock)

    def __repr__(self) -> str:
        return f"S3BlobStore({self.settings.where!r})"

    def key_of(self, sha256: str) -> str:
        """The key a blob has (or would have): ``<prefix>sha256/ab/cd/<sha256>``."""
        check_address(sha256)
        return f"{self._prefix}{sha256[0:2]}/{sha256[2:4]}/{sha256}"

    # -- writing ---------------------------------------------------------------------

    def put_stream(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        """Spool ``stream`` to ``tmp_dir`` hashing it (1 MiB buffer), then upload the spool.

        ``BlobTooLarge`` past ``max_bytes``, ``SourceUnreadable`` when reading ``stream``
        fails with an ``OSError``; the spool file is removed on every path."""
        self._check_writable()
        try:
            fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX,
                                        dir=self.tmp_dir)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create a temporary file in {self.tmp_dir}: "
                                     f"{exc.strerror or exc}") from exc
        spool = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                reader = HashingReader(stream, limit=max_bytes)
                while True:
                    try:
                        chunk = reader.read(BUFFER_SIZE)
                    except OSError as exc:
                        raise SourceUnreadable(f"cannot read the source stream: "
                                               f"{exc.strerror or exc}") from exc
                    if not chunk:
                        break
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise StorageUnavailable(f"cannot write {spool}: "
                                                 f"{exc.strerror or exc}") from exc
            return self._upload(spool, reader.sha256, reader.size)
        finally:
            spool.unlink(missing_ok=True)

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store ``data``; return its address."""
        return self.put_stream(io.BytesIO(data))

    def put_file(self, path: str | os.PathLike[str], *, max_bytes: int | None = None,
                 known: KnownDigest | None = None) -> StoredBlob:
        """Upload the file at ``path``; it is left where it is.

        ``known`` (its writer's digest) replaces the hashing read only while the file's
        ``lstat`` shows the identity recorded with it; the upload re-hashes what it sends
        either way, dedup hashes the file before it takes it for a blob the bucket holds,
        and a file whose bytes do not hash to the digest raises ``DigestMismatch`` with
        nothing stored."""
        self._check_writable()
        source = Path(path)
        try:
            st = os.lstat(source)
        except OSError as exc:
            raise SourceUnreadable(f"cannot read {source}: {exc.strerror or exc}") from exc
        if max_bytes is not None and st.st_size > max_bytes:
            raise BlobTooLarge(f"{source} has {st.st_size} bytes, more than {max_bytes}")
        if known is not None and known.matches(st):
            return self._upload(source, known.sha256, known.size, hashed=False)
        try:
            with open(source, "rb") as fh:
                reader = HashingReader(fh, limit=max_bytes)
                while reader.read(BUFFER_SIZE):
                    pass
        except OSError as exc:
            raise SourceUnreadable(f"cannot read {source}: {exc.strerror or exc}") from exc
        return self._upload(source, reader.sha256, reader.size)

    # -- reading ---------------------------------------------------------------------

    def open(self, sha256: str) -> BinaryIO:
        """The blob's bytes as a stream (one ``GetObject``); ``BlobNotFound`` when absent."""
        key = self.key_of(sha256)
        with s3_errors(self.settings, "read", sha256=sha256):
            body = self._client.get_object(Bucket=self.settings.bucket, Key=key)["Body"]
        raw = _ObjectReader(body, self.settings, sha256)
        return cast(BinaryIO, io.BufferedReader(raw, BUFFER_SIZE))

    def open_range(self, sha256: str, start: int, length: int) -> BinaryIO:
        """``length`` bytes of a blob from ``start`` (fewer at its end): one ``GetObject``
        with ``Range``, so only those bytes cross the network."""
        check_range(start, length)
        key = self.key_of(sha256)
        if length == 0:
            self._head(sha256)  # absent: BlobNotFound
            return cast(BinaryIO, io.BytesIO(b""))
        with s3_errors(self.settings, "read", sha256=sha256):
            try:
                body = self._client.get_object(Bucket=self.settings.bucket, Key=key,
                                               Range=f"bytes={start}-{start + length - 1}")["Body"]
            except ClientError as exc:
                if error_code(exc) != "InvalidRange":  # start at or past the end: no bytes
                    raise
                return cast(BinaryIO, io.BytesIO(b""))
        raw = _ObjectReader(body, self.settings, sha256)
        return cast(BinaryIO, io.BufferedReader(raw, BUFFER_SIZE))

    def exists(self, sha256: str) -> bool:
        return head(self._client, self.settings, self.key_of(sha256), sha256) is not None

    def size(self, sha256: str) -> int:
        return int(self._head(sha256)["ContentLength"])

    def lock_of(self, sha256: str) -> BlobLock | None:
        """The blob's current Object Lock, or None when it has none."""
        meta = self._head(sha256)
        mode, until = meta.get("ObjectLockMode"), meta.get("ObjectLockRetainUntilDate")
        return BlobLock(mode=str(mode), until=until) if mode and until else None

    def checksum_of(self, sha256: str) -> str:
        """The SHA-256 checksum the bucket keeps for the blob (base64; ``-N`` when it was
        uploaded in N parts), or "" when the server keeps none."""
        return str(self._head(sha256).get("ChecksumSHA256") or "")

    def check_copy(self, sha256: str, source: Path) -> None:
        """Check the object against ``source``, the local file it was copied from (read,
        not trusted): its size, the SHA-256 checksum the bucket keeps (the blob's own for
        one part; for N parts, the SHA-256 of the parts' SHA-256s, the file cut as an
        upload cuts it now; an object cut otherwise is read back and re-hashed instead),
        and a retention. An object the bucket keeps no checksum of is read back and
        re-hashed too. ``DigestMismatch`` or ``StorageUnavailable`` when it differs."""
        meta = self._head(sha256)
        size = int(meta["ContentLength"])
        stored = str(meta.get("ChecksumSHA256") or "").split("-")[0]
        try:
            local = source.stat().st_size
        except OSError as exc:
            raise SourceUnreadable(f"cannot read {source}: {exc.strerror or exc}") from exc
        if local != size:
            raise StorageUnavailable(f"bucket holds {size} bytes for {sha256}, not the "
                                     f"{local} of {source}")
        # the blob's own SHA-256 (one part) needs no read; a composite one, the file cut
        # as an upload cuts it now; none, or another cut: the object read back
        if stored != b64(bytes.fromhex(sha256)) and (
                not stored or (composite_checksum(self.settings, source)
                               or ("", 0))[0] != stored):
            actual = self.rehash(sha256)
            if actual != sha256:
                raise DigestMismatch(expected=sha256, actual=actual, size=size)
        if not meta.get("ObjectLockMode") or not meta.get("ObjectLockRetainUntilDate"):
            raise StorageUnavailable(f"bucket holds {sha256} without an Object Lock retention")

    def iter_blobs(self) -> Iterator[str]:
        """Every blob's SHA-256, in key order (sorted); other keys under the prefix are
        skipped."""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.bucket, Prefix=self._prefix,
            PaginationConfig={"PageSize": LIST_PAGE_SIZE})
        with s3_errors(self.settings, "list"):
            for page in pages:
                for item in page.get("Contents", ()):
                    rest = str(item["Key"])[len(self._prefix):]
                    name = rest[6:]
                    if is_address(name) and rest[:6] == f"{name[0:2]}/{name[2:4]}/":
                        yield name

    def rehash(self, sha256: str, *, on_read: Callable[[int], None] | None = None) -> str:
        """Read the blob back from the bucket and return the SHA-256 of its bytes now.

        ``on_read`` is called with the size of each chunk as it is hashed (1 MiB at most).
        Safe to call from several threads at once."""
        with self.open(sha256) as stream:
            reader = HashingReader(stream)
            while chunk := reader.read(BUFFER_SIZE):
                if on_read is not None:
                    on_read(len(chunk))
            return reader.sha256

    def bucket_status(self) -> BucketStatus:
        """The bucket's versioning and Object Lock configuration, read now."""
        bucket = self.settings.bucket
        with s3_errors(self.settings, "read the versioning of"):
            versioning = self._client.get_bucket_versioning(Bucket=bucket).get("Status", "")
        try:
            with s3_errors(self.settings, "read the Object Lock configuration of"):
                conf = self._client.get_object_lock_configuration(Bucket=bucket)
        except StorageUnavailable as exc:
            if "ObjectLockConfigurationNotFound" not in str(exc):
                raise
            conf = {}
        enabled = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        return BucketStatus(where=self.settings.where, versioning=str(versioning),
                            object_lock=enabled)

    # -- internals -------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self.read_only:
            raise StorageUnavailable(f"the blob store {self.settings.where} was opened "
                                     "read-only")

    def _head(self, sha256: str) -> dict[str, Any]:
        with s3_errors(self.settings, "read", sha256=sha256):
            return dict(self._client.head_object(Bucket=self.settings.bucket,
                                                 Key=self.key_of(sha256),
                                                 ChecksumMode="ENABLED"))

    def _upload(self, path: Path, sha256: str, size: int, *, hashed: bool = True) -> StoredBlob:
        created = upload(self._client, self.settings, self.key_of(sha256), path,
                         sha256=sha256, size=size, now=self._clock(),
                         budget=self.part_budget, hashed=hashed)
        return StoredBlob(sha256=sha256, size=size, created=created)
