"""Uploading one blob to S3: checksummed, locked, single or multipart, bounded memory.

``upload(...)`` sends a local file whose SHA-256 is its key and returns whether it created
the object:

1. A ``HEAD`` of the key: present already is dedup (nothing sent), unless what is there
   has another size or another whole-object SHA-256 checksum: then it is not the blob,
   and the blob is sent as a new version on top of it. A blob present without a
   retention (its upload stopped before ``PutObjectRetention``) gets one.
2. Up to ``part_size`` bytes: the file is read into memory, hashed, compared with its
   address, and sent as one ``PutObject``. Larger: a multipart upload, one part in memory
   at a time (``part_size``, raised so that no file needs more than 10,000 parts); each
   part is hashed into the whole file's SHA-256 as it is read, and the upload is completed
   only when that SHA-256 is the address, else aborted. So the bytes sent are always bytes
   that hash to their key, whatever happened to the file since it was hashed. Each such
   buffer is reserved from the store's ``PartBudget`` (``storage._s3_memory``) while it is
   read and sent, so concurrent uploads hold at most ``BUFFERED_PARTS`` parts together,
   each in a memory map of its own that is unmapped once it is sent.
3. Every request carries its SHA-256 as the S3 checksum (``x-amz-checksum-sha256``: the
   whole object's, or each part's), so a server that checks it (AWS S3, MinIO, Ceph …)
   refuses bytes altered on the way (``UploadRefused``). ``If-None-Match: *`` makes a
   concurrent writer of the same blob lose quietly (dedup) instead of adding a version.
4. The object is written with Object Lock (``ObjectLockMode`` and ``RetainUntilDate``).
   A ``HEAD`` then reads back its size, checksum and retention; a version without the
   retention asked for (moto ignores the lock headers of ``CreateMultipartUpload``) gets
   it with ``PutObjectRetention``, and a size or checksum that differ raise.

Any error aborts an unfinished multipart upload, so no part is left to bill or to find.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import mmap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from io import BufferedReader
from pathlib import Path
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from storage._base import BUFFER_SIZE
from storage._s3_client import MAX_PARTS, S3Settings, error_code, s3_errors
from storage._s3_memory import PartBudget, read_mapped
from storage.errors import BlobNotFound, DigestMismatch, SourceUnreadable, StorageUnavailable

log = logging.getLogger(__name__)


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def part_size_for(settings: S3Settings, size: int) -> int:
    """``part_size``, or larger when the file would need more than 10,000 parts."""
    return max(settings.part_size, math.ceil(size / MAX_PARTS))


def composite_checksum(settings: S3Settings, path: Path) -> tuple[str, int] | None:
    """The multipart checksum an upload of ``path`` would have now (the SHA-256 of its
    parts' SHA-256s, base64, without ``-N``) and the file's size; None if unreadable."""
    try:
        size = path.stat().st_size
        step, digests = part_size_for(settings, size), bytearray()
        with path.open("rb") as fh:
            while part := fh.read(step):
                digests += hashlib.sha256(part).digest()
    except OSError as exc:
        log.debug("cannot read %s", path, exc_info=exc)
        return None
    return b64(hashlib.sha256(bytes(digests)).digest()), size


def head(client: Any, settings: S3Settings, key: str, sha256: str) -> dict[str, Any] | None:
    """The object's metadata with its checksum, or None when there is none."""
    try:
        with s3_errors(settings, "read", sha256=sha256):
            return dict(client.head_object(Bucket=settings.bucket, Key=key,
                                           ChecksumMode="ENABLED"))
    except BlobNotFound:
        return None


def upload(client: Any, settings: S3Settings, key: str, path: Path, *, sha256: str,
           size: int, now: datetime, budget: PartBudget, hashed: bool = True) -> bool:
    """Send the file at ``path`` (``sha256``, ``size``) to ``key``; True when it created it.

    An object already at ``key`` is the blob only if its size is ``size`` and its
    whole-object checksum, when the bucket keeps one, is ``sha256``: one that is not
    (written by something else, altered) is not taken for the blob; the blob is sent
    again as a new version on top of it (no ``If-None-Match``), which the lock allows.

    ``hashed=False``: ``sha256`` is a writer's digest the store took without reading the
    file; an upload checks it anyway, and so does dedup, by hashing the file (one read,
    as the upload would have made), before it says the file is a blob already held.

    Each buffer read to be sent is reserved from ``budget`` until it is sent."""
    present = head(client, settings, key, sha256)
    until = settings.retention.until(now)
    if present is not None:
        if _holds(present, sha256, size):
            if not hashed:
                _check(*_hash_file(path, size), sha256, size)
            if not present.get("ObjectLockMode") or not present.get("ObjectLockRetainUntilDate"):
                # an earlier upload stopped before its retention was set: set it now
                _lock(client, settings, key, sha256, present, until)
            return False
        log.warning("bucket %s holds %s bytes (checksum %s) under %s, not the blob: "
                    "storing the blob again as a new version", settings.where,
                    present.get("ContentLength"), present.get("ChecksumSHA256") or "none",
                    sha256)
    once = {"IfNoneMatch": "*"} if present is None else {}
    lock = {"ObjectLockMode": settings.lock_mode, "ObjectLockRetainUntilDate": until}
    try:
        source = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SourceUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
    with source:
        if size <= settings.part_size:
            checksum = b64(bytes.fromhex(sha256))
            try:
                with budget.hold(size), _mapped(source, size, path) as (data, got):
                    got += len(_read(source, 1, path))  # a byte past ``size``: it grew
                    _check(hashlib.sha256(data).hexdigest(), got, sha256, size)
                    with s3_errors(settings, "upload", sha256=sha256):
                        client.put_object(Bucket=settings.bucket, Key=key, Body=data,
                                          ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
                                          **once, **lock)
            except StorageUnavailable as exc:
                if _lost_race(exc):
                    return False
                raise
        else:
            checksum = _multipart(client, settings, key, source, path, sha256, size,
                                  lock, once, budget)
            if not checksum:
                return False
    _confirm(client, settings, key, sha256, size, checksum, until)
    return True


def _multipart(client: Any, settings: S3Settings, key: str, source: BufferedReader,
               path: Path, sha256: str, size: int, lock: dict[str, Any], once: dict[str, str],
               budget: PartBudget) -> str:
    """Upload in parts, each held in ``budget`` while read and sent; the object's
    composite checksum, or "" when another writer won."""
    with s3_errors(settings, "upload", sha256=sha256):
        upload_id = client.create_multipart_upload(
            Bucket=settings.bucket, Key=key, ChecksumAlgorithm="SHA256", **lock)["UploadId"]
    ids = {"Bucket": settings.bucket, "Key": key, "UploadId": upload_id}
    try:
        whole, digests, total = hashlib.sha256(), bytearray(), 0
        parts: list[dict[str, Any]] = []
        step = part_size_for(settings, size)
        while want := min(step, size - total):
            with budget.hold(want), _mapped(source, want, path) as (data, got):
                if not got:  # the file shrank
                    break
                whole.update(data)
                total += got
                digest = hashlib.sha256(data).digest()
                digests += digest
                number = len(parts) + 1
                with s3_errors(settings, "upload", sha256=sha256):
                    sent = client.upload_part(Body=data, PartNumber=number,
                                              ChecksumAlgorithm="SHA256",
                                              ChecksumSHA256=b64(digest), **ids)
            parts.append({"PartNumber": number, "ETag": sent["ETag"],
                          "ChecksumSHA256": b64(digest)})
        if total == size:  # a byte past ``size``: the file grew
            extra = _read(source, 1, path)
            whole.update(extra)
            total += len(extra)
        _check(whole.hexdigest(), total, sha256, size)  # before anything becomes visible
        try:
            with s3_errors(settings, "upload", sha256=sha256):
                client.complete_multipart_upload(MultipartUpload={"Parts": parts},
                                                 **once, **ids)
        except StorageUnavailable as exc:
            if _lost_race(exc):
                _abort(client, ids)
                return ""
            raise
    except BaseException:
        _abort(client, ids)
        raise
    return f"{b64(hashlib.sha256(bytes(digests)).digest())}-{len(parts)}"


def _holds(meta: dict[str, Any], sha256: str, size: int) -> bool:
    """Whether the object ``meta`` describes can be the blob: its size, and its checksum
    when it is a whole-object one. A multipart object's (its ETag, or its checksum, ends
    in ``-N``; moto leaves the ``-N`` off the checksum) is the SHA-256 of its parts' and
    depends on how it was cut, so only its size is checked here; ``verify`` re-reads it."""
    stored = str(meta.get("ChecksumSHA256") or "")
    multipart = "-" in stored or "-" in str(meta.get("ETag") or "")
    return meta.get("ContentLength") == size and (
        not stored or multipart or stored == b64(bytes.fromhex(sha256)))


def _confirm(client: Any, settings: S3Settings, key: str, sha256: str, size: int,
             checksum: str, until: datetime) -> None:
    """Read back what the bucket holds now: size, checksum, and a retention at least to
    ``until`` (set with ``PutObjectRetention`` when the bucket did not apply it)."""
    meta = head(client, settings, key, sha256)
    if meta is None:
        raise StorageUnavailable(f"bucket {settings.where} does not show {sha256} just "
                                 "after storing it")
    if meta.get("ContentLength") != size:
        raise StorageUnavailable(f"bucket {settings.where} holds {meta.get('ContentLength')} "
                                 f"bytes for {sha256}, not the {size} sent")
    stored = str(meta.get("ChecksumSHA256") or "")
    if stored and stored.split("-")[0] != checksum.split("-")[0]:
        raise StorageUnavailable(f"bucket {settings.where} holds {sha256} with checksum "
                                 f"{stored}, not the {checksum} sent")
    held = meta.get("ObjectLockRetainUntilDate")
    if meta.get("ObjectLockMode") != settings.lock_mode or held is None \
            or held < until - timedelta(seconds=1):
        _lock(client, settings, key, sha256, meta, until)


def _lock(client: Any, settings: S3Settings, key: str, sha256: str, meta: dict[str, Any],
          until: datetime) -> None:
    """Set the retention of the version ``meta`` describes (``PutObjectRetention``)."""
    version = {"VersionId": meta["VersionId"]} if meta.get("VersionId") else {}
    with s3_errors(settings, "lock", sha256=sha256):
        client.put_object_retention(
            Bucket=settings.bucket, Key=key, **version,
            Retention={"Mode": settings.lock_mode, "RetainUntilDate": until})


def _hash_file(path: Path, size: int) -> tuple[str, int]:
    """The SHA-256 and size of at most ``size + 1`` bytes of ``path``."""
    digest, total = hashlib.sha256(), 0
    try:
        with open(path, "rb") as fh:
            while total <= size and (chunk := fh.read(min(BUFFER_SIZE, size + 1 - total))):
                digest.update(chunk)
                total += len(chunk)
    except OSError as exc:
        raise SourceUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest(), total


@contextmanager
def _mapped(source: BufferedReader, n: int, path: Path) -> Iterator[tuple[mmap.mmap | bytes, int]]:
    """``read_mapped`` with a read error translated (an error of the block passes as is)."""
    with ExitStack() as stack:
        try:
            mapped = stack.enter_context(read_mapped(source, n))
        except OSError as exc:
            raise SourceUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
        yield mapped


def _read(source: BinaryIO, n: int, path: Path) -> bytes:
    try:
        return source.read(n)
    except OSError as exc:
        raise SourceUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc


def _check(actual: str, read: int, sha256: str, size: int) -> None:
    if actual != sha256 or read != size:
        raise DigestMismatch(expected=sha256, actual=actual, size=read)


def _lost_race(exc: StorageUnavailable) -> bool:
    """``If-None-Match: *`` failed: another writer stored the same blob first."""
    cause = exc.__cause__
    return isinstance(cause, ClientError) and (
        error_code(cause) in ("PreconditionFailed", "412")
        or cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 412)


def _abort(client: Any, ids: dict[str, str]) -> None:
    try:
        client.abort_multipart_upload(**ids)
    except (BotoCoreError, ClientError) as exc:  # the bucket's lifecycle rule is the backstop
        log.debug("could not abort multipart upload %s", ids["UploadId"], exc_info=exc)
