"""Hash the media as yt-dlp writes it, in the same pass (issue 12; docs/design.md
"Blob store").

Runs in the capture child (``_media_child``). ``writing_digests(digests)`` wraps the
streams yt-dlp's downloaders open for writing (``FileDownloader.sanitize_open``: the
``.part`` of a plain download, the destination of the HLS/DASH fragment downloaders;
docs/yt-dlp.md "Hashing as it writes") in a ``_HashingFile``, which feeds every byte it
writes to SHA-256. When such a stream is closed having written the whole file, from
offset 0, in order, with no seek or truncate, its digest is kept for the file's inode.
``report(digests, work_dir)`` then lists, for each file left in the work dir whose
inode has a digest and whose size and modification time are still those at close, the
digest with the file's identity now (``_media_digests`` reads it in the parent).

What gets no digest, and is read and hashed by the store as before: a resumed download
(opened for append), a stream that seeked or truncated, a file opened by another write
stream while the first was open (each stream saw only its own bytes), a file any other
writer touched
after the stream closed (ffmpeg's merges and fix-ups write new files), and anything
written outside the downloaders (thumbnails, the info JSON, subtitles conversions).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from yt_dlp.downloader.common import FileDownloader

from workers._media_digests import MAX_DIGESTS

__all__ = ["Digests", "report", "writing_digests"]


@dataclass(frozen=True)
class _Written:
    sha256: str
    size: int
    mtime_ns: int


class Digests:
    """The digests of the files written whole through ``_HashingFile``, by (device, inode)."""

    def __init__(self) -> None:
        self.by_inode: dict[tuple[int, int], _Written] = {}
        self.opened: dict[tuple[int, int], int] = {}  # write streams opened, by inode

    def forget(self, st: os.stat_result) -> int:
        """Drop the inode's digest: a stream opens it for writing. Returns the count of
        such opens, so a stream can tell at its close whether another opened it since."""
        key = (st.st_dev, st.st_ino)
        self.by_inode.pop(key, None)
        self.opened[key] = self.opened.get(key, 0) + 1
        return self.opened[key]

    def keep(self, st: os.stat_result, sha256: str, opened: int) -> None:
        """Keep ``sha256`` for the inode, unless another write stream opened it since
        this one did (``opened``, from ``forget``): then nobody's digest is of it."""
        key = (st.st_dev, st.st_ino)
        if self.opened.get(key) != opened:
            self.by_inode.pop(key, None)
            return
        self.by_inode[key] = _Written(sha256=sha256, size=st.st_size, mtime_ns=st.st_mtime_ns)


class _HashingFile:
    """A write stream that hashes what passes through it; otherwise the stream itself.

    The digest counts only if the stream wrote every byte of the file in order:
    opened truncated (``wb``, size 0), never seeked, truncated or written past a short
    write, no other write stream opened on the file meanwhile, and the file's size at
    close equals the bytes written."""

    def __init__(self, stream: Any, digests: Digests, st: os.stat_result,
                 opened: int) -> None:
        self._stream = stream
        self._digests = digests
        self._opened = opened
        self._sha = hashlib.sha256()
        self._written = 0
        self._whole = st.st_size == 0 and stream.tell() == 0
        self._closed = False

    def write(self, data: bytes) -> int:
        n = self._stream.write(data)
        if n is not None and n != len(data):
            self._whole = False  # a short write: what is on disk is not what was hashed
        self._sha.update(data)
        self._written += len(data)
        return int(len(data) if n is None else n)

    def seek(self, *args: Any) -> Any:
        self._whole = False
        return self._stream.seek(*args)

    def truncate(self, *args: Any) -> Any:
        self._whole = False
        return self._stream.truncate(*args)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def close(self, *args: Any) -> Any:
        if not self._closed:
            self._closed = True
            try:
                self._stream.flush()
                st = os.fstat(self._stream.fileno())
            except (OSError, ValueError):
                self._whole = False
            else:
                if self._whole and st.st_size == self._written:
                    self._digests.keep(st, self._sha.hexdigest(), self._opened)
        return self._stream.close(*args)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def writing_digests(digests: Digests) -> Iterator[None]:
    """While inside, every binary write stream yt-dlp's downloaders open hashes as it writes.

    Binary streams opened ``wb`` are wrapped; one opened any other way for writing
    (``ab``: a resumed download) is not, and the inode loses any digest it had."""
    original = FileDownloader.__dict__["sanitize_open"]  # a descriptor (partialmethod)

    def sanitize_open(self: Any, filename: str, open_mode: str) -> tuple[Any, str]:
        stream, name = original.__get__(self, type(self))(filename, open_mode)
        if filename == "-" or not any(m in open_mode for m in "wax+"):
            return stream, name  # reading (a fragment read back) or stdout
        st = os.fstat(stream.fileno())
        opened = digests.forget(st)  # written again from here: the old digest says nothing
        if open_mode == "wb":
            return _HashingFile(stream, digests, st, opened), name
        return stream, name

    FileDownloader.sanitize_open = sanitize_open
    try:
        yield
    finally:
        FileDownloader.sanitize_open = original


def report(digests: Digests, work_dir: Path) -> list[dict[str, Any]]:
    """The digests of the files now in ``work_dir`` that still are as their stream left
    them, each with the file's path (relative) and identity now; sorted, bounded."""
    entries: list[dict[str, Any]] = []
    for root, _dirs, names in os.walk(work_dir):
        for name in sorted(names):
            path = Path(root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            written = digests.by_inode.get((st.st_dev, st.st_ino))
            if written is None or (st.st_size, st.st_mtime_ns) != (written.size,
                                                                   written.mtime_ns):
                continue
            entries.append({"path": str(path.relative_to(work_dir)), "sha256": written.sha256,
                            "size": st.st_size, "device": st.st_dev, "inode": st.st_ino,
                            "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns})
    entries.sort(key=lambda e: str(e["path"]))
    return entries[:MAX_DIGESTS]
