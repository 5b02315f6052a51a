"""LocalBlobStore.put_file with a ``KnownDigest``: the writer's digest replaces the second
read only on the rename path and only for a file whose identity is unchanged; any change
(appended, rewritten in place and touched back, replaced, hard-linked, outside the tmp
dir) is read and hashed. The fsyncs are the same either way."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from storage import BlobTooLarge, KnownDigest, LocalBlobStore

# A digest no content here has: stored under it only if the store trusted it unread.
CLAIMED = "0" * 64


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def written(path: Path, data: bytes) -> KnownDigest:
    """Write ``data`` to ``path`` and describe it as its writer would: ``CLAIMED`` as digest."""
    path.write_bytes(data)
    st = os.lstat(path)
    return KnownDigest(sha256=CLAIMED, size=st.st_size, device=st.st_dev, inode=st.st_ino,
                       mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns)


def work_file(store: LocalBlobStore, name: str = "clip.mp4") -> Path:
    work = store.tmp_dir / "job-1"
    work.mkdir(exist_ok=True)
    return work / name


def test_an_unchanged_file_is_not_read_again(store: LocalBlobStore) -> None:
    source = work_file(store)
    known = written(source, b"media bytes")
    fsyncs: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "fsync", counting_fsync)
        blob = store.put_file(source, known=known)
    # the claim was taken as is (the bytes were not read to check it) ...
    assert (blob.sha256, blob.size, blob.created) == (CLAIMED, 11, True)
    final = store.path_of(CLAIMED)
    assert final.read_bytes() == b"media bytes" and not source.exists()
    # ... and the file and its directory were still made durable and read-only
    assert len(fsyncs) >= 2
    assert stat.S_IMODE(final.stat().st_mode) == 0o444


def test_a_file_appended_to_is_read(store: LocalBlobStore) -> None:
    source = work_file(store)
    known = written(source, b"first part")
    with source.open("ab") as f:
        f.write(b" and more")
    assert store.put_file(source, known=known).sha256 == sha(b"first part and more")


def test_a_file_rewritten_in_place_and_touched_back_is_read(store: LocalBlobStore) -> None:
    """Same inode, same size, the old modification time put back: the change time differs."""
    source = work_file(store)
    known = written(source, b"AAAA")
    with source.open("r+b") as f:
        f.write(b"BBBB")
    os.utime(source, ns=(known.mtime_ns, known.mtime_ns))
    st = os.lstat(source)
    assert (st.st_ino, st.st_size, st.st_mtime_ns) == (known.inode, known.size, known.mtime_ns)
    assert store.put_file(source, known=known).sha256 == sha(b"BBBB")


def test_a_replaced_file_is_read(store: LocalBlobStore) -> None:
    source = work_file(store)
    known = written(source, b"original")
    other = work_file(store, "other.mp4")
    other.write_bytes(b"replaced")
    os.replace(other, source)
    assert store.put_file(source, known=known).sha256 == sha(b"replaced")


def test_a_hard_linked_file_is_copied_and_read(store: LocalBlobStore) -> None:
    source = work_file(store)
    written(source, b"shared inode")
    os.link(source, work_file(store, "second-name"))
    st = os.lstat(source)  # the link count is part of no identity: the rename path is refused
    known = KnownDigest(sha256=CLAIMED, size=st.st_size, device=st.st_dev, inode=st.st_ino,
                        mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns)
    assert store.put_file(source, known=known).sha256 == sha(b"shared inode")
    assert source.exists()


def test_a_file_outside_the_tmp_dir_is_copied_and_read(store: LocalBlobStore,
                                                        tmp_path: Path) -> None:
    source = tmp_path / "outside.mp4"
    known = written(source, b"not ours to move")
    assert store.put_file(source, known=known).sha256 == sha(b"not ours to move")
    assert source.read_bytes() == b"not ours to move"


def test_a_digest_that_is_not_an_address_is_not_used(store: LocalBlobStore) -> None:
    source = work_file(store)
    known = written(source, b"bytes")
    bad = KnownDigest(sha256="../../etc/passwd", size=known.size, device=known.device,
                      inode=known.inode, mtime_ns=known.mtime_ns, ctime_ns=known.ctime_ns)
    assert store.put_file(source, known=bad).sha256 == sha(b"bytes")


def test_the_size_limit_holds_with_a_digest(store: LocalBlobStore) -> None:
    source = work_file(store)
    known = written(source, b"x" * 100)
    with pytest.raises(BlobTooLarge, match="more than 99"):
        store.put_file(source, max_bytes=99, known=known)
    assert source.exists()
