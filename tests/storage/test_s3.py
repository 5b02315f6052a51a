"""S3BlobStore against a real S3 API server (moto_server, tests/support/s3.py).

What moto enforces, and is tested here: Object Lock (a locked version cannot be deleted,
COMPLIANCE or GOVERNANCE), versioning, ``If-None-Match: *``, missing buckets, and, when
started with auth, refused credentials. What moto 5.2 does not enforce: it does not
verify ``x-amz-checksum-sha256`` (whole object or part), so the server refusing bytes
altered on the wire cannot be shown here (``test_server_refuses_a_wrong_checksum`` is an
expected failure that turns into a failure the day moto checks it); the store's own
check, that every byte it sends hashes to the key, is tested instead, the checksum it
sends is read back, and the refusal AWS sends (``400 BadDigest``) is played by a small
HTTP server of this module that checks the checksum of a body altered on the way.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import storage.s3
from storage import (
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    DigestMismatch,
    InvalidAddress,
    KnownDigest,
    StorageUnavailable,
    UploadRefused,
)
from storage.retention import Retention
from storage.s3 import S3BlobStore, S3Settings
from tests.support.s3 import MotoServer, free_port

pytestmark = pytest.mark.slow  # a moto server (1-2 s to start), each request ~10-50 ms

MiB = 1 << 20
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def make_store(moto: MotoServer, bucket: str, tmp_path: Path, **settings: object) -> S3BlobStore:
    conf = S3Settings(bucket=bucket, endpoint_url=moto.url, region="us-east-1",
                      **{"prefix": "archive-1", "part_size": 5 * MiB, **settings})  # type: ignore[arg-type]
    return S3BlobStore(conf, tmp_path / "tmp", clock=lambda: NOW)


@pytest.fixture
def store(moto: MotoServer, bucket: str, tmp_path: Path) -> S3BlobStore:
    return make_store(moto, bucket, tmp_path)


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def versions(moto: MotoServer, bucket: str) -> list[dict[str, object]]:
    return list(moto.client().list_object_versions(Bucket=bucket).get("Versions", []))


def test_round_trip(store: S3BlobStore, moto: MotoServer, bucket: str) -> None:
    assert isinstance(store, BlobStore)
    blob = store.put_bytes(b"evidence")
    sha = hashlib.sha256(b"evidence").hexdigest()
    assert (blob.sha256, blob.size, blob.created) == (sha, 8, True)
    assert store.exists(sha) and store.size(sha) == 8
    with store.open(sha) as fh:
        assert fh.read(3) == b"evi" and fh.read() == b"dence"
    assert store.rehash(sha) == sha
    seen: list[int] = []
    assert store.rehash(sha, on_read=seen.append) == sha and sum(seen) == 8
    other = store.put_stream(io.BytesIO(b"other"))
    assert list(store.iter_blobs()) == sorted([sha, other.sha256])
    keys = [o["Key"] for o in moto.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert f"archive-1/sha256/{sha[:2]}/{sha[2:4]}/{sha}" in keys
    assert not list((store.tmp_dir).iterdir())  # every spool removed


def test_iter_blobs_pages_and_skips_foreign_keys(store: S3BlobStore, moto: MotoServer,
                                                 bucket: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage.s3, "LIST_PAGE_SIZE", 2)  # 3 pages and more
    client = moto.client()
    shas = sorted(store.put_bytes(str(i).encode()).sha256 for i in range(5))
    client.put_object(Bucket=bucket, Key="archive-1/sha256/zz/notes.txt", Body=b"x")
    client.put_object(Bucket=bucket, Key=f"archive-1/sha256/00/00/{shas[0]}", Body=b"x")
    client.put_object(Bucket=bucket, Key=f"other/sha256/{shas[1][:2]}/{shas[1][2:4]}/x",
                      Body=b"x")
    assert list(store.iter_blobs()) == shas


def test_absent_and_invalid_addresses(store: S3BlobStore) -> None:
    missing = "0" * 64
    assert not store.exists(missing)
    with pytest.raises(BlobNotFound, match="no blob 0000"):
        store.open(missing)
    with pytest.raises(BlobNotFound, match="no blob"):
        store.size(missing)
    with pytest.raises(InvalidAddress, match="not a SHA-256 address"):
        store.open("../../etc/passwd")


def test_same_bytes_are_stored_once(store: S3BlobStore, moto: MotoServer, bucket: str,
                                    tmp_path: Path) -> None:
    first = store.put_bytes(b"same")
    again = store.put_stream(io.BytesIO(b"same"))
    source = tmp_path / "same.bin"
    source.write_bytes(b"same")
    third = store.put_file(str(source))
    assert first.created and not again.created and not third.created
    assert len(versions(moto, bucket)) == 1  # no second version either
    assert source.read_bytes() == b"same"  # the source is left where it was


def test_a_concurrent_writer_loses_quietly(store: S3BlobStore, moto: MotoServer,
                                           bucket: str) -> None:
    """``If-None-Match: *`` (moto enforces it): an object that appears between the HEAD
    and the PUT is dedup, not a second version."""
    data = b"raced"
    sha = hashlib.sha256(data).hexdigest()
    client = store._client
    real_head = client.head_object
    raced: list[bool] = []

    def racing_head(**kwargs: object) -> object:
        try:
            return real_head(**kwargs)  # 404: the store is about to PUT
        finally:  # and another writer stores the same blob in between
            if not raced:
                raced.append(True)
                moto.client().put_object(Bucket=bucket, Key=store.key_of(sha), Body=data)

    client.head_object = racing_head
    try:
        blob = store.put_bytes(data)
    finally:
        client.head_object = real_head
    assert not blob.created
    assert len(versions(moto, bucket)) == 1


def test_every_object_is_locked_and_its_version_cannot_be_deleted(
        store: S3BlobStore, moto: MotoServer, bucket: str) -> None:
    store.put_bytes(b"small")
    store.put_stream(io.BytesIO(os.urandom(11 * MiB)))  # multipart: 3 parts of <= 5 MiB
    client = moto.client()
    listed = versions(moto, bucket)
    assert len(listed) == 2
    for v in listed:
        meta = client.head_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
        assert meta["ObjectLockMode"] == "COMPLIANCE"
        assert meta["ObjectLockRetainUntilDate"] >= datetime(2036, 11, 27, 12, 0, tzinfo=UTC)
        with pytest.raises(ClientError, match="AccessDenied"):
            client.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
        with pytest.raises(ClientError, match="AccessDenied"):
            client.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"],
                                 BypassGovernanceRetention=True)
    assert len(versions(moto, bucket)) == 2


def test_governance_mode_and_a_retention_in_days(moto: MotoServer, bucket: str,
                                                 tmp_path: Path) -> None:
    store = make_store(moto, bucket, tmp_path, lock_mode="GOVERNANCE",
                       retention=Retention(days=30))
    sha = store.put_bytes(b"governed").sha256
    lock = store.lock_of(sha)
    assert lock is not None and lock.mode == "GOVERNANCE"
    assert abs(lock.until - (NOW + timedelta(days=30))) < timedelta(seconds=1)
    v = versions(moto, bucket)[0]
    with pytest.raises(ClientError, match="AccessDenied"):
        moto.client().delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])


def test_multipart_upload(moto: MotoServer, bucket: str, tmp_path: Path) -> None:
    store = make_store(moto, bucket, tmp_path)
    data = os.urandom(20 * 1000 * 1000)  # 20 MB: 4 parts of 5 MiB
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    blob = store.put_file(str(source))
    assert blob.created and blob.size == len(data)
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    assert store.size(blob.sha256) == len(data) and store.rehash(blob.sha256) == blob.sha256
    parts = [data[i:i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
    composite = base64.b64encode(hashlib.sha256(
        b"".join(hashlib.sha256(p).digest() for p in parts)).digest()).decode()
    assert store.checksum_of(blob.sha256).split("-")[0] == composite
    assert store.lock_of(blob.sha256) is not None
    assert not moto.client().list_multipart_uploads(Bucket=bucket).get("Uploads")
    with store.open(blob.sha256) as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == blob.sha256


def test_the_checksum_sent_is_the_sha256(store: S3BlobStore) -> None:
    blob = store.put_bytes(b"checked")
    assert store.checksum_of(blob.sha256) == b64sha(b"checked")


@pytest.mark.parametrize("size", [100, 7 * MiB], ids=["single", "multipart"])
def test_bytes_that_do_not_hash_to_their_key_are_refused(
        store: S3BlobStore, moto: MotoServer, bucket: str, tmp_path: Path, size: int) -> None:
    """A writer's digest that lies (the file is the one it describes, its bytes are not):
    the store hashes what it sends and refuses before anything becomes an object."""
    source = tmp_path / "work" / "clip.bin"
    source.parent.mkdir()
    source.write_bytes(os.urandom(size))
    st = os.lstat(source)
    lie = hashlib.sha256(b"something else").hexdigest()
    known = KnownDigest(sha256=lie, size=size, device=st.st_dev, inode=st.st_ino,
                        mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns)
    with pytest.raises(DigestMismatch, match=f"expected SHA-256 {lie}"):
        store.put_file(str(source), known=known)
    assert not store.exists(lie)
    assert not moto.client().list_objects_v2(Bucket=bucket).get("Contents")
    assert not moto.client().list_multipart_uploads(Bucket=bucket).get("Uploads")


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="moto 5.2 does not verify x-amz-checksum-sha256 (AWS S3 does)")
def test_server_refuses_a_wrong_checksum(moto: MotoServer, bucket: str) -> None:
    """What AWS S3 does and moto does not: refuse a body that does not match its checksum.
    Strict: the day moto enforces it, this fails and the xfail goes."""
    try:
        moto.client().put_object(Bucket=bucket, Key="k", Body=b"bytes",
                                 ChecksumAlgorithm="SHA256", ChecksumSHA256=b64sha(b"other"))
    except ClientError as exc:
        assert "BadDigest" in str(exc) or "checksum" in str(exc).lower()
        return
    raise AssertionError("moto accepted a body whose checksum does not match")


def test_too_large_and_unreadable_streams_leave_nothing(store: S3BlobStore, moto: MotoServer,
                                                        bucket: str) -> None:
    with pytest.raises(BlobTooLarge, match="more than 10 bytes"):
        store.put_stream(io.BytesIO(b"x" * 11), max_bytes=10)

    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, b: object) -> int:
            raise OSError(5, "Input/output error")

    from storage import SourceUnreadable

    with pytest.raises(SourceUnreadable, match="Input/output error"):
        store.put_stream(Broken())  # type: ignore[arg-type]
    assert not moto.client().list_objects_v2(Bucket=bucket).get("Contents")
    assert not list(store.tmp_dir.iterdir())


def test_read_only_store_refuses_writes(moto: MotoServer, bucket: str, tmp_path: Path) -> None:
    conf = S3Settings(bucket=bucket, endpoint_url=moto.url, region="us-east-1")
    store = S3BlobStore(conf, tmp_path / "tmp", read_only=True)
    with pytest.raises(StorageUnavailable, match="opened read-only"):
        store.put_bytes(b"x")
    assert not (tmp_path / "tmp").exists()


def test_missing_bucket(moto: MotoServer, aws_env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable, match=r"^bucket s3://no-such-bucket/ at .* does "
                                                 r"not exist: create it") as info:
        S3BlobStore(S3Settings(bucket="no-such-bucket", endpoint_url=moto.url), tmp_path)
    assert "\n" not in str(info.value)


def test_bucket_without_object_lock(moto: MotoServer, aws_env: dict[str, str],
                                    tmp_path: Path) -> None:
    name = moto.make_bucket("unlocked-bucket", lock=False)
    conf = S3Settings(bucket=name, endpoint_url=moto.url)
    with pytest.raises(StorageUnavailable, match="does not have Object Lock enabled"):
        S3BlobStore(conf, tmp_path / "tmp")
    S3BlobStore(conf, tmp_path / "tmp", read_only=True)  # reading needs no lock


def test_server_down(aws_env: dict[str, str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StorageUnavailable, match=r"^cannot reach bucket s3://evidence/ at "
                                                 r"http://127\.0\.0\.1:\d+: ") as info:
        S3BlobStore(S3Settings(bucket="evidence", endpoint_url=url), tmp_path)
    assert "\n" not in str(info.value)


def test_a_server_going_down_is_storage_unavailable(tmp_path: Path,
                                                    aws_env: dict[str, str]) -> None:
    server = MotoServer.start()
    try:
        server.make_bucket("short-lived")
        store = S3BlobStore(S3Settings(bucket="short-lived", endpoint_url=server.url),
                            tmp_path / "tmp")
        sha = store.put_bytes(b"kept").sha256
    finally:
        server.close()
    for call in (store.open, store.size, store.exists, store.rehash):
        with pytest.raises(StorageUnavailable, match="cannot reach bucket"):
            call(sha)
    with pytest.raises(StorageUnavailable, match="cannot reach bucket"):
        store.put_bytes(b"new")
    with pytest.raises(StorageUnavailable, match="cannot reach bucket"):
        list(store.iter_blobs())


def test_refused_credentials(aws_env: dict[str, str], tmp_path: Path) -> None:
    server = MotoServer.start(auth=True)  # every request is checked; no key exists
    try:
        with pytest.raises(StorageUnavailable, match=r"refused access \(open: 403 "
                                                     r"Forbidden\): check the AWS credentials"
                           ) as info:
            S3BlobStore(S3Settings(bucket="evidence", endpoint_url=server.url), tmp_path)
        assert "\n" not in str(info.value) and "test-secret" not in str(info.value)
    finally:
        server.close()


def test_no_credentials(moto: MotoServer, aws_env: dict[str, str], tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StorageUnavailable, match="no AWS credentials for bucket"):
        S3BlobStore(S3Settings(bucket="evidence", endpoint_url=moto.url), tmp_path)


class _ChecksumChecking(BaseHTTPRequestHandler):
    """What AWS S3 answers (and moto does not) when a body does not match its
    ``x-amz-checksum-sha256``: ``400 BadDigest``. A bucket with Object Lock, no objects;
    every PUT's body is hashed and compared with the checksum sent, as AWS does."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._reply(200 if self.path.count("/") == 1 else 404)

    def do_GET(self) -> None:
        if "object-lock" in self.path:
            self._reply(200, b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled"
                             b"</ObjectLockEnabled></ObjectLockConfiguration>")
        else:
            self._reply(200, b"<VersioningConfiguration><Status>Enabled</Status>"
                             b"</VersioningConfiguration>")

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        sent = self.headers.get("x-amz-checksum-sha256")
        altered = body[:-1] + bytes([body[-1] ^ 1])  # one bit flipped on the way
        if sent != b64sha(altered):
            self._reply(400, b"<Error><Code>BadDigest</Code><Message>The SHA256 you "
                             b"specified did not match the calculated checksum.</Message></Error>")
        else:
            self._reply(200)


def test_a_refused_upload_is_upload_refused(aws_env: dict[str, str], tmp_path: Path) -> None:
    """The translation of the server's refusal, over HTTP, with the answer AWS gives (moto
    gives none): ``UploadRefused``, one line, nothing stored, the spool removed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChecksumChecking)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        store = S3BlobStore(S3Settings(bucket="evidence", endpoint_url=url), tmp_path / "tmp")
        sha = hashlib.sha256(b"evidence").hexdigest()
        with pytest.raises(UploadRefused, match=rf"refused the upload of {sha}: its bytes did "
                                                r"not match their checksum \(BadDigest\)$"):
            store.put_bytes(b"evidence")
        assert not list((tmp_path / "tmp").iterdir())
    finally:
        server.shutdown()
        server.server_close()


def test_a_dead_writers_spool_is_swept(moto: MotoServer, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    dead = tmp_path / "tmp" / "s3-killed.partial"
    dead.write_bytes(b"half a stream")
    work = tmp_path / "tmp" / "job-1-2-abc"
    work.mkdir()
    make_store(moto, bucket, tmp_path)
    assert not dead.exists() and work.is_dir()  # a job's work directory is not the store's
