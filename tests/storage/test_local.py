"""LocalBlobStore: layout, write-once semantics, atomicity and failure modes."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

import pytest

import storage.local
from storage import (
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    InvalidAddress,
    LocalBlobStore,
    SourceUnreadable,
    StorageUnavailable,
    hash_stream,
)

MiB = 1 << 20


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def store(data_dir: Path) -> LocalBlobStore:
    return LocalBlobStore(data_dir / "blobs", data_dir / "tmp")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_blob(store: LocalBlobStore, address: str) -> bytes:
    with store.open(address) as f:
        return f.read()


def blob_files(store: LocalBlobStore) -> list[Path]:
    return sorted(p for p in (store.root / "sha256").rglob("*") if p.is_file())


def tmp_files(store: LocalBlobStore) -> list[Path]:
    return sorted(store.tmp_dir.iterdir())


class Exploding(io.RawIOBase):
    """A stream that yields ``good`` bytes, then fails as a dropped connection would."""

    def __init__(self, good: int, exc: BaseException) -> None:
        self._left = good
        self._exc = exc

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            raise self._exc
        n = min(len(buffer), self._left, 256 * 1024)
        buffer[:n] = b"x" * n
        self._left -= n
        return n


# -- round trip, dedup, layout --------------------------------------------------------


def test_is_a_blob_store(store: LocalBlobStore) -> None:
    as_protocol: BlobStore = store
    assert isinstance(as_protocol, BlobStore)


def test_round_trip(store: LocalBlobStore) -> None:
    data = os.urandom(3 * MiB + 17)  # spans several buffers
    blob = store.put_stream(io.BytesIO(data))
    assert (blob.sha256, blob.size, blob.created) == (sha(data), len(data), True)
    with store.open(blob.sha256) as f:
        assert f.read() == data
    assert store.exists(blob.sha256)
    assert store.size(blob.sha256) == len(data)
    assert store.rehash(blob.sha256) == blob.sha256
    assert list(store.iter_blobs()) == [blob.sha256]
    assert tmp_files(store) == []


def test_empty_blob(store: LocalBlobStore) -> None:
    blob = store.put_bytes(b"")
    assert (blob.sha256, blob.size) == (sha(b""), 0)
    assert read_blob(store, blob.sha256) == b""


def test_dedup(store: LocalBlobStore) -> None:
    first = store.put_bytes(b"same bytes")
    second = store.put_stream(io.BytesIO(b"same bytes"))
    assert first.created and not second.created
    assert first.sha256 == second.sha256
    assert len(blob_files(store)) == 1
    assert tmp_files(store) == []


def test_layout_and_mode(store: LocalBlobStore) -> None:
    blob = store.put_bytes(b"layout")
    digest = sha(b"layout")
    expected = store.root / "sha256" / digest[:2] / digest[2:4] / digest
    assert store.path_of(blob.sha256) == expected
    assert blob_files(store) == [expected]
    assert stat.S_IMODE(expected.stat().st_mode) == 0o444


def test_open_is_read_only(store: LocalBlobStore) -> None:
    blob = store.put_bytes(b"read only")
    with store.open(blob.sha256) as f:
        assert not f.writable()


def test_hash_stream_matches_hashlib() -> None:
    data = os.urandom(2 * MiB + 1)
    assert hash_stream(io.BytesIO(data)) == (sha(data), len(data))


def test_iter_blobs_skips_strays(store: LocalBlobStore) -> None:
    blobs = sorted(store.put_bytes(bytes([i])).sha256 for i in range(5))
    digest = blobs[0]
    leaf = store.path_of(digest).parent
    (leaf / "notes.txt").write_text("not a blob")
    (leaf / ("0" * 64)).write_text("a blob name in the wrong directory")
    (store.root / "sha256" / "README").write_text("stray")
    assert list(store.iter_blobs()) == blobs


# -- put_file ---------------------------------------------------------------------------


def test_put_file_in_work_dir_is_moved(store: LocalBlobStore) -> None:
    work = store.tmp_dir / "job-1"
    work.mkdir()
    source = work / "clip.mp4"
    source.write_bytes(b"media bytes")
    blob = store.put_file(str(source))
    assert blob.created and blob.sha256 == sha(b"media bytes")
    assert not source.exists()
    final = store.path_of(blob.sha256)
    assert final.read_bytes() == b"media bytes"
    assert stat.S_IMODE(final.stat().st_mode) == 0o444


def test_put_file_outside_tmp_is_copied(store: LocalBlobStore, tmp_path: Path) -> None:
    source = tmp_path / "report.pdf"
    source.write_bytes(b"%PDF-1.7 report")
    blob = store.put_file(source)
    assert blob.created
    assert source.read_bytes() == b"%PDF-1.7 report"  # left alone
    assert read_blob(store, blob.sha256) == b"%PDF-1.7 report"
    assert tmp_files(store) == []


def test_put_file_dedup_leaves_source(store: LocalBlobStore) -> None:
    store.put_bytes(b"known")
    source = store.tmp_dir / "again.bin"
    source.write_bytes(b"known")
    blob = store.put_file(source)
    assert not blob.created
    assert source.read_bytes() == b"known"
    assert stat.S_IMODE(source.stat().st_mode) != 0o444


def test_put_file_never_moves_a_symlink_or_shared_inode(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"someone else's file")
    link = store.tmp_dir / "link"
    link.symlink_to(outside)
    hard = store.tmp_dir / "hard"
    os.link(outside, hard)
    store.put_file(link)
    store.put_file(hard)
    assert link.is_symlink() and hard.exists()
    assert outside.read_bytes() == b"someone else's file"
    assert stat.S_IMODE(outside.stat().st_mode) != 0o444
    assert [p.read_bytes() for p in blob_files(store)] == [b"someone else's file"]


def test_put_file_written_during_the_call(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file still being written would be stored under the wrong name: refused."""
    source = store.tmp_dir / "growing.mp4"
    source.write_bytes(b"first part")
    real_hash_stream = hash_stream

    def hash_then_append(stream: BinaryIO) -> tuple[str, int]:
        result = real_hash_stream(stream)
        with open(source, "ab") as writer:
            writer.write(b" and more")
        return result

    monkeypatch.setattr(storage.local, "hash_stream", hash_then_append)
    with pytest.raises(SourceUnreadable, match="changed while it was being stored"):
        store.put_file(source)
    assert blob_files(store) == []
    assert source.read_bytes() == b"first part and more"


def test_put_file_too_large_leaves_source(store: LocalBlobStore) -> None:
    source = store.tmp_dir / "big.bin"
    source.write_bytes(b"x" * 100)
    with pytest.raises(BlobTooLarge, match="more than 99"):
        store.put_file(source, max_bytes=99)
    assert source.exists()
    assert blob_files(store) == []


def test_put_file_missing_source(store: LocalBlobStore, tmp_path: Path) -> None:
    with pytest.raises(SourceUnreadable, match="No such file or directory"):
        store.put_file(tmp_path / "absent.mp4")


def test_put_file_directory_source(store: LocalBlobStore, tmp_path: Path) -> None:
    with pytest.raises(SourceUnreadable, match="Is a directory"):
        store.put_file(tmp_path)
    assert tmp_files(store) == []


# -- limits and failures: nothing partial, temp files removed -----------------------------


def test_blob_too_large(store: LocalBlobStore) -> None:
    with pytest.raises(BlobTooLarge, match=f"more than {2 * MiB} bytes"):
        store.put_stream(io.BytesIO(b"x" * (2 * MiB + 1)), max_bytes=2 * MiB)
    assert blob_files(store) == []
    assert tmp_files(store) == []


def test_exactly_max_bytes_is_accepted(store: LocalBlobStore) -> None:
    assert store.put_stream(io.BytesIO(b"x" * 1000), max_bytes=1000).size == 1000


def test_crash_mid_write_leaves_nothing(store: LocalBlobStore) -> None:
    stream = io.BufferedReader(Exploding(3 * MiB, ConnectionResetError("peer hung up")))
    with pytest.raises(SourceUnreadable, match="peer hung up"):
        store.put_stream(stream)
    assert blob_files(store) == []
    assert tmp_files(store) == []


def test_foreign_exception_passes_through(store: LocalBlobStore) -> None:
    stream = io.BufferedReader(Exploding(MiB + 5, RuntimeError("worker cancelled")))
    with pytest.raises(RuntimeError, match="worker cancelled"):
        store.put_stream(stream)
    assert blob_files(store) == []
    assert tmp_files(store) == []


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (errno.ENOSPC, "No space left on device"),
        (errno.EROFS, "Read-only file system"),
        (errno.EACCES, "Permission denied"),
        (errno.EIO, "Input/output error"),
    ],
)
def test_write_error_injected(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch, code: int, text: str
) -> None:
    """The disk fails after part of the content was written: the part is removed."""
    real_write = os.write
    calls = 0

    def failing_write(fd: int, data: bytes | memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise OSError(code, os.strerror(code))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(StorageUnavailable, match=f"cannot write .*: {text}"):
        store.put_stream(io.BytesIO(b"y" * (3 * MiB)))
    monkeypatch.undo()
    assert calls == 2
    assert blob_files(store) == []
    assert tmp_files(store) == []


def test_rename_error_injected(store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_rename(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(StorageUnavailable, match="cannot store blob .*No space left on device"):
        store.put_bytes(b"never lands")
    monkeypatch.undo()
    assert blob_files(store) == []
    assert tmp_files(store) == []


def test_disk_full(small_disk: tuple[Path, bool], monkeypatch: pytest.MonkeyPatch) -> None:
    """A real full disk (tmpfs) where the sandbox allows a mount, an injected ENOSPC elsewhere."""
    where, mounted = small_disk
    store = LocalBlobStore(where / "blobs", where / "tmp")
    if mounted:
        fs = os.statvfs(where)
        assert fs.f_blocks * fs.f_frsize <= MiB
    else:
        real_write = os.write

        def filling_write(fd: int, data: bytes | memoryview) -> int:
            """Writes as a 1 MiB disk would: short, then ENOSPC; deleting frees space."""
            used = sum(p.stat().st_size for p in where.rglob("*") if p.is_file())
            if used >= MiB:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_write(fd, data[: MiB - used])

        monkeypatch.setattr(os, "write", filling_write)
    small = store.put_bytes(b"fits")
    with pytest.raises(StorageUnavailable, match="No space left on device"):
        store.put_stream(io.BytesIO(os.urandom(2 * MiB)))
    assert blob_files(store) == [store.path_of(small.sha256)]
    assert tmp_files(store) == []
    # space is back once the failed write was cleaned up: the store still works
    assert store.put_bytes(b"after").created


# -- addresses --------------------------------------------------------------------------


BAD_ADDRESSES = [
    "",
    "abc",
    "A" * 64,  # upper case is not the canonical form
    "g" * 64,
    "0" * 63,
    "0" * 65,
    "../" + "0" * 61,
    "00/00/" + "0" * 58,
    "0" * 63 + "\n",
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
@pytest.mark.parametrize("method", ["open", "exists", "size", "rehash", "path_of"])
def test_bad_address(store: LocalBlobStore, address: str, method: str) -> None:
    with pytest.raises(InvalidAddress, match="not a SHA-256 address"):
        getattr(store, method)(address)


def test_bad_address_type(store: LocalBlobStore) -> None:
    with pytest.raises(InvalidAddress, match="not a SHA-256 address"):
        store.open(b"0" * 64)  # type: ignore[arg-type]


def test_missing_blob(store: LocalBlobStore) -> None:
    absent = sha(b"never stored")
    assert not store.exists(absent)
    with pytest.raises(BlobNotFound, match=absent):
        store.open(absent)
    with pytest.raises(BlobNotFound, match=absent):
        store.size(absent)
    with pytest.raises(BlobNotFound, match=absent):
        store.rehash(absent)


# -- fixity -----------------------------------------------------------------------------


def test_flipped_byte_detected_by_rehash(store: LocalBlobStore) -> None:
    blob = store.put_bytes(b"original evidence")
    path = store.path_of(blob.sha256)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[3] ^= 0x01
    path.write_bytes(bytes(data))
    assert store.rehash(blob.sha256) == sha(bytes(data))
    assert store.rehash(blob.sha256) != blob.sha256



def test_rehash_reports_each_chunk_it_hashes(store: LocalBlobStore) -> None:
    data = os.urandom((2 << 20) + 5)  # two full chunks and a tail
    blob = store.put_bytes(data)
    chunks: list[int] = []
    assert store.rehash(blob.sha256, on_read=chunks.append) == blob.sha256
    assert chunks == [1 << 20, 1 << 20, 5]


def test_an_error_from_on_read_stops_the_rehash(store: LocalBlobStore) -> None:
    blob = store.put_bytes(os.urandom(3 << 20))
    chunks: list[int] = []

    def stop_after_one(n: int) -> None:
        chunks.append(n)
        raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt, match="stop"):
        store.rehash(blob.sha256, on_read=stop_after_one)
    assert chunks == [1 << 20]

# -- unusable stores --------------------------------------------------------------------


def test_root_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.write_text("not a directory")
    with pytest.raises(StorageUnavailable, match=f"{root}.*Not a directory"):
        LocalBlobStore(root, tmp_path / "tmp")


def test_tmp_dir_is_a_file(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.write_text("not a directory")
    with pytest.raises(StorageUnavailable, match=f"{tmp}.*File exists"):
        LocalBlobStore(tmp_path / "blobs", tmp)


def test_unwritable_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # root may write anywhere, so the permission check itself is made to fail
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(
        StorageUnavailable, match=f"{tmp_path / 'blobs'}.*not readable and writable"
    ):
        LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")


def test_unwritable_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_temp(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", no_temp)
    with pytest.raises(StorageUnavailable, match=f"{tmp_path / 'tmp'}: Permission denied"):
        LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")


def test_tmp_dir_on_another_filesystem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_stat = os.stat
    tmp = tmp_path / "tmp"

    def other_device(path: object, *args: object, **kwargs: object) -> os.stat_result:
        st = real_stat(path, *args, **kwargs)  # type: ignore[arg-type]
        if Path(str(path)) == tmp:
            fields = list(st)
            fields[stat.ST_DEV] = st.st_dev + 1
            return os.stat_result(fields)
        return st

    monkeypatch.setattr(os, "stat", other_device)
    with pytest.raises(StorageUnavailable, match="not on the same filesystem"):
        LocalBlobStore(tmp_path / "blobs", tmp)


# -- read-only ---------------------------------------------------------------------------


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in [root, *root.rglob("*")]}


def test_read_only_reads_and_never_writes(store: LocalBlobStore, data_dir: Path,
                                          tmp_path: Path) -> None:
    blob = store.put_bytes(b"evidence")
    before = tree(data_dir)
    reader = LocalBlobStore(data_dir / "blobs", data_dir / "tmp", read_only=True)
    assert read_blob(reader, blob.sha256) == b"evidence"
    assert list(reader.iter_blobs()) == [blob.sha256]
    assert reader.rehash(blob.sha256) == blob.sha256
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"new")
    with pytest.raises(StorageUnavailable, match="opened read-only"):
        reader.put_bytes(b"new")
    with pytest.raises(StorageUnavailable, match="opened read-only"):
        reader.put_file(source)
    assert tree(data_dir) == before


def test_read_only_never_creates_a_store(data_dir: Path) -> None:
    with pytest.raises(StorageUnavailable, match="cannot read the blob directory .*sha256"):
        LocalBlobStore(data_dir / "blobs", data_dir / "tmp", read_only=True)
    assert not data_dir.exists()
