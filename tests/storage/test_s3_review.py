"""S3BlobStore: what an object already under a blob's key must be before it counts as the
blob, how errors are named, and ``check_copy`` on a server that keeps no checksum
(moto_server, tests/support/s3.py)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from storage import BlobNotFound, DigestMismatch, StorageUnavailable
from storage._s3_client import s3_errors
from storage.s3 import S3BlobStore, S3Settings
from tests.support.s3 import MotoServer

pytestmark = pytest.mark.slow

MiB = 1 << 20
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(moto: MotoServer, bucket: str, tmp_path: Path) -> S3BlobStore:
    conf = S3Settings(bucket=bucket, endpoint_url=moto.url, region="us-east-1",
                      prefix="archive-1", part_size=5 * MiB)
    return S3BlobStore(conf, tmp_path / "tmp", clock=lambda: NOW)


def current(moto: MotoServer, bucket: str, key: str) -> bytes:
    return bytes(moto.client().get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.mark.parametrize("size", [100, 7 * MiB], ids=["single", "multipart"])
def test_an_object_of_another_size_under_the_key_is_not_the_blob(
        store: S3BlobStore, moto: MotoServer, bucket: str, tmp_path: Path, size: int) -> None:
    """Dedup trusted any object at the key: a truncated or foreign object stayed the blob's
    current version and the put reported it stored (``created=False``)."""
    data = os.urandom(size)
    sha = hashlib.sha256(data).hexdigest()
    moto.client().put_object(Bucket=bucket, Key=store.key_of(sha), Body=data[:50])
    source = tmp_path / "clip.bin"
    source.write_bytes(data)
    blob = store.put_file(str(source))
    assert blob.created and blob.size == size
    assert store.size(sha) == size and store.rehash(sha) == sha
    assert store.lock_of(sha) is not None
    assert not moto.client().list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_an_object_with_another_checksum_under_the_key_is_not_the_blob(
        store: S3BlobStore, moto: MotoServer, bucket: str) -> None:
    data = b"the evidence as captured"
    sha = hashlib.sha256(data).hexdigest()
    altered = b"the evidence as ALTERED!"  # same size
    moto.client().put_object(Bucket=bucket, Key=store.key_of(sha), Body=altered,
                             ChecksumAlgorithm="SHA256")
    blob = store.put_bytes(data)
    assert blob.created
    assert current(moto, bucket, store.key_of(sha)) == data


@pytest.mark.parametrize("size", [4, 6 * MiB], ids=["single", "multipart"])
def test_the_blob_itself_is_still_dedup(store: S3BlobStore, moto: MotoServer,
                                        bucket: str, size: int) -> None:
    """A multipart object's checksum is not the blob's SHA-256 (and moto leaves off its
    ``-N``): it is still the blob."""
    data = os.urandom(size)
    first = store.put_bytes(data)
    again = store.put_bytes(data)
    assert first.created and not again.created
    versions = moto.client().list_object_versions(Bucket=bucket)["Versions"]
    assert len(versions) == 1


def test_check_copy_reads_back_an_object_without_a_checksum(
        store: S3BlobStore, moto: MotoServer, bucket: str, tmp_path: Path) -> None:
    """A server that keeps no checksum: the size alone passed for the copy being right."""
    data = b"local blob, intact"
    sha = hashlib.sha256(data).hexdigest()
    source = tmp_path / "blob"
    source.write_bytes(data)
    moto.client().put_object(Bucket=bucket, Key=store.key_of(sha), Body=b"X" * len(data),
                             ObjectLockMode="COMPLIANCE",
                             ObjectLockRetainUntilDate=datetime(2036, 1, 1, tzinfo=UTC))
    assert store.checksum_of(sha) == ""
    with pytest.raises(DigestMismatch, match=f"expected SHA-256 {sha}"):
        store.check_copy(sha, source)


def test_a_failed_upload_is_not_blob_not_found() -> None:
    """``NoSuchUpload`` (404) while uploading: the upload failed; no blob is missing."""
    settings = S3Settings(bucket="evidence")
    gone = ClientError({"Error": {"Code": "NoSuchUpload", "Message": "The specified upload "
                                  "does not exist."},
                        "ResponseMetadata": {"HTTPStatusCode": 404}}, "UploadPart")
    with (pytest.raises(StorageUnavailable, match="NoSuchUpload") as caught,
          s3_errors(settings, "upload", sha256="a" * 64)):
        raise gone
    assert not isinstance(caught.value, BlobNotFound)


def test_error_messages_are_one_line() -> None:
    settings = S3Settings(bucket="evidence")
    with (pytest.raises(StorageUnavailable, match="Parameter validation failed") as caught,
          s3_errors(settings, "read")):
        raise ParamValidationError(report="Invalid bucket name \"x y\"\nsecond line")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("endpoint", ["http://a b", "http://[::1"])
def test_an_endpoint_botocore_cannot_use_is_storage_unavailable(
        endpoint: str, aws_env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable, match="endpoint"):
        S3BlobStore(S3Settings(bucket="evidence", endpoint_url=endpoint), tmp_path / "tmp")


def test_as_many_connections_as_asyncio_has_threads(
        store: S3BlobStore, caplog: pytest.LogCaptureFixture) -> None:
    """``asyncio.to_thread`` runs up to 32 threads (a capture stores its files all at once,
    several captures at a time): with a pool of 16, urllib3 warned and dropped connections."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(32) as pool:
        blobs = list(pool.map(lambda i: store.put_bytes(os.urandom(256 << 10)), range(96)))
    assert all(b.created for b in blobs)
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_check_copy_of_a_single_part_object_reads_no_part_checksums(
        store: S3BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bucket keeps the blob's own SHA-256: the local file is not read again to cut
    it into parts (``storage migrate`` had read every blob three times)."""
    import storage.s3

    source = tmp_path / "blob"
    source.write_bytes(b"one part")
    sha = store.put_file(str(source)).sha256

    def no_read(*args: object) -> None:
        raise AssertionError("the local file was cut into parts")

    monkeypatch.setattr(storage.s3, "composite_checksum", no_read)
    store.check_copy(sha, source)


def test_check_copy_names_a_missing_source(store: S3BlobStore, tmp_path: Path) -> None:
    from storage import SourceUnreadable

    sha = store.put_bytes(b"kept").sha256
    with pytest.raises(SourceUnreadable, match="cannot read .*gone"):
        store.check_copy(sha, tmp_path / "gone")


def test_a_known_digest_naming_another_stored_blob_is_checked(
        store: S3BlobStore, tmp_path: Path) -> None:
    """A writer's digest that lies and names a blob the bucket holds (same size): dedup
    took it without a read, and the file was recorded under another content's name."""
    from storage import KnownDigest

    other = store.put_bytes(b"another capture's file")
    source = tmp_path / "work" / "clip.bin"
    source.parent.mkdir()
    source.write_bytes(b"x" * other.size)  # this capture's own bytes, the same size
    st = os.lstat(source)
    assert st.st_size == other.size
    lie = KnownDigest(sha256=other.sha256, size=other.size, device=st.st_dev,
                      inode=st.st_ino, mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns)
    with pytest.raises(DigestMismatch, match=f"expected SHA-256 {other.sha256}"):
        store.put_file(str(source), known=lie)
    # the truth still dedups without complaint
    same = tmp_path / "same.bin"
    same.write_bytes(b"another capture's file")
    st = os.lstat(same)
    known = KnownDigest(sha256=other.sha256, size=other.size, device=st.st_dev,
                        inode=st.st_ino, mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns)
    assert not store.put_file(str(same), known=known).created


def test_a_blob_held_without_a_retention_gets_one_when_put_again(
        store: S3BlobStore, moto: MotoServer, bucket: str) -> None:
    """An upload that stopped between its ``CompleteMultipartUpload`` and its
    ``PutObjectRetention`` (moto ignores the lock of a multipart upload; a network blip)
    left the blob unlocked, and dedup never locked it."""
    data = b"stored, never locked"
    sha = hashlib.sha256(data).hexdigest()
    moto.client().put_object(Bucket=bucket, Key=store.key_of(sha), Body=data,
                             ChecksumAlgorithm="SHA256")
    assert store.lock_of(sha) is None
    assert not store.put_bytes(data).created
    lock = store.lock_of(sha)
    assert lock is not None and lock.mode == "COMPLIANCE"
    assert lock.until.year == NOW.year + 10
