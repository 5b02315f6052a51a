"""The local filesystem blob store, the default.

Layout (docs/design.md, "Data directory", contract)::

    <root>/sha256/ab/cd/<64 hex>     one read-only file (0444) per distinct content
    <tmp_dir>/blob-*.partial         writes in progress; same filesystem as <root>

A write goes to a temporary file in ``tmp_dir`` and is hashed as it is copied.
The file is then fsynced, made read-only and renamed to its address, and the
directory is fsynced. A file already in ``tmp_dir`` (a job's work dir) is renamed
in place of the copy; its hash is read from it, or taken from its writer
(``KnownDigest``) while the file is provably unchanged since it was written.
rename(2) is atomic within one filesystem, so a blob's name appears only when all
its bytes are on disk. An error leaves no temporary file;
a crash or a kill leaves at most one in ``tmp_dir``, which the next store opened
while no other is open removes (``storage._stale``).

    >>> store = LocalBlobStore(data_dir / "blobs", data_dir / "tmp")
    >>> blob = store.put_bytes(b"evidence")
    >>> store.open(blob.sha256).read()
    b'evidence'
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tempfile
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, cast

from storage._base import (
    BUFFER_SIZE,
    KnownDigest,
    StoredBlob,
    check_address,
    hash_stream,
    is_address,
)
from storage._reader import HashingReader
from storage._stale import hold_and_sweep
from storage._window import Window, check_range
from storage.errors import (
    BlobNotFound,
    BlobTooLarge,
    SourceUnreadable,
    StorageUnavailable,
)

_BLOB_MODE = 0o444
_TMP_PREFIX = "blob-"
_TMP_SUFFIX = ".partial"


@contextmanager
def _unavailable(action: str, path: Path | str) -> Iterator[None]:
    """Turn an ``OSError`` of the store's own I/O into ``StorageUnavailable`` naming the path."""
    try:
        yield
    except OSError as exc:
        raise StorageUnavailable(f"{action} {path}: {exc.strerror or exc}") from exc


@contextmanager
def _reading(sha256: str, path: Path) -> Iterator[None]:
    """Reading a blob: absent is ``BlobNotFound``, any other ``OSError`` ``StorageUnavailable``."""
    try:
        yield
    except FileNotFoundError as exc:
        raise BlobNotFound(f"no blob {sha256}") from exc
    except OSError as exc:
        raise StorageUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc


@contextmanager
def _unreadable(path: Path | str) -> Iterator[None]:
    """Turn an ``OSError`` while reading the caller's source into ``SourceUnreadable``."""
    try:
        yield
    except OSError as exc:
        raise SourceUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc


def _discard(path: Path) -> None:
    """Remove a temporary file; it may already be gone (renamed into place)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (POSIX: fsync the directory)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file is replaced or written to."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class LocalBlobStore:
    """Blobs as read-only files named by their SHA-256, under ``root``.

    ``tmp_dir`` must be on the same filesystem as ``root`` (blobs are renamed
    into place). Both are created if missing. A store that cannot be read or
    written raises ``StorageUnavailable`` here, naming the path, rather than at
    the first write.

    ``read_only=True`` opens an existing store for reading: nothing is created,
    probed or written (a missing blob directory raises ``StorageUnavailable``),
    and every write raises ``StorageUnavailable``.
    """

    def __init__(self, root: Path, tmp_dir: Path, *, read_only: bool = False) -> None:
        self.root = Path(root)
        self.tmp_dir = Path(tmp_dir)
        self._blobs = self.root / "sha256"
        self.read_only = read_only
        if read_only:
            with _unavailable("cannot read the blob directory", self._blobs):
                if not stat.S_ISDIR(os.stat(self._blobs).st_mode):
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            return
        with _unavailable("cannot create the blob directory", self._blobs):
            self._blobs.mkdir(parents=True, exist_ok=True)
        with _unavailable("cannot create the temporary directory", self.tmp_dir):
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(self._blobs, os.R_OK | os.W_OK | os.X_OK):
            raise StorageUnavailable(f"blob directory {self._blobs} is not readable and writable")
        # The lock first: from here on no other store opened alone sweeps this one's
        # temporary files, the probe's below included.
        with _unavailable("cannot lock the temporary directory", self.tmp_dir):
            lock = hold_and_sweep(self.tmp_dir, _TMP_PREFIX, _TMP_SUFFIX)
        weakref.finalize(self, os.close, lock)  # the lock lasts as long as the store
        with _unavailable("cannot write in the temporary directory", self.tmp_dir):
            fd, probe = self._temp_file()
            os.close(fd)
            probe.unlink()
            self._tmp_dev = os.stat(self.tmp_dir).st_dev
            same_fs = self._tmp_dev == os.stat(self._blobs).st_dev
        if not same_fs:
            raise StorageUnavailable(
                f"{self.tmp_dir} is not on the same filesystem as {self.root}: "
                "blobs are renamed from one to the other"
            )
        self._tmp_resolved = self.tmp_dir.resolve()

    def __repr__(self) -> str:
        return f"LocalBlobStore(root={str(self.root)!r}, tmp_dir={str(self.tmp_dir)!r})"

    def path_of(self, sha256: str) -> Path:
        """The path a blob has (or would have): ``<root>/sha256/ab/cd/<sha256>``."""
        check_address(sha256)
        return self._blobs / sha256[0:2] / sha256[2:4] / sha256

    # -- writing ---------------------------------------------------------------------

    def put_stream(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        """Copy ``stream`` into the store, hashing as it goes (one pass, 1 MiB buffer).

        Raises ``BlobTooLarge`` past ``max_bytes``, ``SourceUnreadable`` when
        reading ``stream`` fails with an ``OSError``, and ``StorageUnavailable``
        when the store's disk fails (full, read-only, permissions). Any other
        exception from ``stream`` passes through. In every case the temporary
        file is removed and no blob appears.
        """
        self._check_writable()
        fd, tmp = self._temp_file()
        try:
            try:
                sha256, size = self._copy(stream, fd, tmp, max_bytes)
                with _unavailable("cannot write", tmp):
                    os.fchmod(fd, _BLOB_MODE)
                    os.fsync(fd)
            finally:
                with _unavailable("cannot write", tmp):
                    os.close(fd)
            return self._commit(tmp, sha256, size)
        except BaseException:
            _discard(tmp)
            raise

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store ``data``; return its address."""
        return self.put_stream(BytesIO(data))

    def put_file(self, path: str | os.PathLike[str], *, max_bytes: int | None = None,
                 known: KnownDigest | None = None) -> StoredBlob:
        """Store the file at ``path``.

        A regular file inside ``tmp_dir`` (a job's work dir) with a single link is
        hashed in place, made read-only and renamed to its address: no copy.
        Any other file is copied. When the content is already stored the
        source is left alone. Callers treat the source as consumed either way.
        The file must not be written to while it is stored; if its size or
        modification time change during the call, ``SourceUnreadable`` is raised.

        ``known`` is the file's digest as its writer computed it while writing (one
        pass, docs/design.md "Blob store"). It replaces the second full read only on
        the rename path, and only when the file's ``lstat`` now shows the very
        identity recorded with it (device, inode, size, modification and change
        times): a file appended to, rewritten, touched or replaced since is read and
        hashed as if ``known`` were not given. The fsyncs are the same either way.
        """
        self._check_writable()
        source = Path(path)
        with _unreadable(source):
            st = os.lstat(source)
        if max_bytes is not None and st.st_size > max_bytes:
            raise BlobTooLarge(f"{source} has {st.st_size} bytes, more than {max_bytes}")
        if self._may_move(source, st):
            trusted = known if known is not None and known.matches(st) else None
            return self._move_in(source, st, max_bytes, trusted)
        with _unreadable(source):
            stream = open(source, "rb")  # noqa: SIM115 - closed below
        with stream:
            return self.put_stream(stream, max_bytes=max_bytes)

    # -- reading ---------------------------------------------------------------------

    def open(self, sha256: str) -> BinaryIO:
        """Open a blob for reading (binary, read-only); ``BlobNotFound`` when absent."""
        path = self.path_of(sha256)
        with _reading(sha256, path):
            return open(path, "rb")

    def open_range(self, sha256: str, start: int, length: int) -> BinaryIO:
        """``length`` bytes of a blob from ``start`` (fewer at its end): the file, seeked."""
        check_range(start, length)
        stream = self.open(sha256)
        try:
            with _reading(sha256, self.path_of(sha256)):
                stream.seek(start)
        except BaseException:
            stream.close()
            raise
        return cast(BinaryIO, io.BufferedReader(Window(stream, length)))

    def exists(self, sha256: str) -> bool:
        path = self.path_of(sha256)
        try:
            return stat.S_ISREG(os.stat(path).st_mode)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc

    def size(self, sha256: str) -> int:
        path = self.path_of(sha256)
        with _reading(sha256, path):
            return os.stat(path).st_size

    def iter_blobs(self) -> Iterator[str]:
        """Every blob's SHA-256, sorted; files that are not blobs at their address are skipped."""
        with _unavailable("cannot list", self._blobs):
            for first in sorted(os.listdir(self._blobs)):
                level1 = self._blobs / first
                if not level1.is_dir():
                    continue
                for second in sorted(os.listdir(level1)):
                    level2 = level1 / second
                    if not level2.is_dir():
                        continue
                    for name in sorted(os.listdir(level2)):
                        if is_address(name) and name[0:4] == first + second:
                            yield name

    def rehash(self, sha256: str, *, on_read: Callable[[int], None] | None = None) -> str:
        """Re-read a blob and return the SHA-256 of its bytes now (fixity check).

        ``on_read`` is called with the size of each chunk as it is hashed (1 MiB at
        most), so a caller can meter throughput; an exception it raises stops the
        read and passes through. Safe to call from several threads at once: the
        hash of a large chunk runs without the GIL.
        """
        path = self.path_of(sha256)
        with self.open(sha256) as stream, _reading(sha256, path):
            if on_read is None:
                return hash_stream(stream)[0]
            reader = HashingReader(stream)
            while chunk := reader.read(BUFFER_SIZE):
                on_read(len(chunk))
            return reader.sha256

    # -- internals -------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self.read_only:
            raise StorageUnavailable(f"the blob store {self.root} was opened read-only")

    def _temp_file(self) -> tuple[int, Path]:
        with _unavailable("cannot create a temporary file in", self.tmp_dir):
            fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX, dir=self.tmp_dir)
        return fd, Path(name)

    @staticmethod
    def _copy(stream: BinaryIO, fd: int, tmp: Path, max_bytes: int | None) -> tuple[str, int]:
        reader = HashingReader(stream, limit=max_bytes)
        while True:
            with _unreadable("the source stream"):
                chunk = reader.read(BUFFER_SIZE)
            if not chunk:
                return reader.sha256, reader.size
            with _unavailable("cannot write", tmp):
                _write_all(fd, chunk)

    def _commit(self, tmp: Path, sha256: str, size: int) -> StoredBlob:
        """Rename a complete, fsynced, read-only file to its address.

        If the content is already stored, ``tmp`` is removed instead (dedup).
        """
        final = self.path_of(sha256)
        with _unavailable("cannot store blob", final):
            if final.exists():
                _discard(tmp)
                return StoredBlob(sha256=sha256, size=size, created=False)
            self._make_dirs(final.parent)
            os.rename(tmp, final)
            _fsync_dir(final.parent)
        return StoredBlob(sha256=sha256, size=size, created=True)

    def _make_dirs(self, leaf: Path) -> None:
        """Create ``ab/`` and ``ab/cd/`` as needed, fsyncing each parent that gains an entry."""
        for directory in (leaf.parent, leaf):
            if directory.is_dir():
                continue
            try:
                directory.mkdir()
            except FileExistsError:  # another writer made it first
                continue
            _fsync_dir(directory.parent)

    def _may_move(self, source: Path, st: os.stat_result) -> bool:
        """A regular file, single link, in our tmp dir: renaming it moves no one else's data."""
        return (
            stat.S_ISREG(st.st_mode)
            and st.st_nlink == 1
            and st.st_dev == self._tmp_dev
            and source.resolve().is_relative_to(self._tmp_resolved)
        )

    def _move_in(self, source: Path, st: os.stat_result, max_bytes: int | None,
                 known: KnownDigest | None) -> StoredBlob:
        """Hash (or take ``known``, already matched to ``st``), fsync, rename into place."""
        with _unreadable(source):
            stream = open(source, "rb")  # noqa: SIM115 - closed below
        with stream:
            if known is not None:
                sha256, size = known.sha256, known.size
            else:
                with _unreadable(source):
                    sha256, size = hash_stream(stream)
            if max_bytes is not None and size > max_bytes:
                raise BlobTooLarge(f"{source} has {size} bytes, more than {max_bytes}")
            if self.exists(sha256):
                return StoredBlob(sha256=sha256, size=size, created=False)
            with _unavailable("cannot store blob", source):
                os.fchmod(stream.fileno(), _BLOB_MODE)
                os.fsync(stream.fileno())
                now = os.fstat(stream.fileno())
            if _identity(now) != _identity(st) or size != st.st_size:
                raise SourceUnreadable(f"{source} changed while it was being stored")
        return self._commit(source, sha256, size)
