"""The interface every blob store implements: the local filesystem and an S3-compatible bucket.

A blob store is write-once and content-addressed: a blob is named by the SHA-256
of its bytes, is never rewritten, and putting the same bytes twice stores them
once. Writers hand the store an open binary stream; the store hashes while it
copies (one pass, fixed buffer) and only makes the blob visible once it is
complete, so a crash never leaves a wrong or partial blob under a valid name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO, Protocol, runtime_checkable

from storage._reader import HashingReader
from storage.errors import InvalidAddress

#: Every copy and every hash reads in chunks of this size: memory stays flat for any blob.
BUFFER_SIZE = 1 << 20

_ADDRESS = re.compile(r"[0-9a-f]{64}")


def hash_stream(stream: IO[bytes]) -> tuple[str, int]:
    """Read ``stream`` to its end in fixed-size chunks; return its SHA-256 (hex) and size.

    >>> import io
    >>> hash_stream(io.BytesIO(b"abc"))[0][:16], hash_stream(io.BytesIO(b"abc"))[1]
    ('ba7816bf8f01cfea', 3)
    """
    reader = HashingReader(stream)
    while reader.read(BUFFER_SIZE):
        pass
    return reader.sha256, reader.size


def is_address(value: object) -> bool:
    """True when ``value`` is a blob address: a SHA-256 written as 64 lowercase hex."""
    return isinstance(value, str) and _ADDRESS.fullmatch(value) is not None


def check_address(sha256: object) -> str:
    """Return ``sha256`` if it is a blob address (64 lowercase hex), else raise ``InvalidAddress``.

    Every store method that takes an address calls this first, so no argument is
    ever turned into a path before it is known to be exactly 64 hex digits.
    """
    if not isinstance(sha256, str) or not is_address(sha256):
        raise InvalidAddress(f"not a SHA-256 address (64 lowercase hex): {sha256!r:.80}")
    return sha256


@dataclass(frozen=True, kw_only=True)
class StoredBlob:
    """What the store holds after a put: the content's SHA-256 (hex) and size in bytes.

    ``created`` is False when identical content was already present (deduplicated).
    """

    sha256: str
    size: int
    created: bool


@dataclass(frozen=True, kw_only=True)
class KnownDigest:
    """A file's SHA-256 and size as its writer computed them while writing it (one pass),
    with the identity the file had when the writer last saw it.

    ``put_file`` takes the digest instead of reading the file again only while the file
    still has this identity, and only on its rename path (docs/design.md "Blob store").
    """

    sha256: str
    size: int
    device: int
    inode: int
    mtime_ns: int
    ctime_ns: int

    def matches(self, st: os.stat_result) -> bool:
        """True when ``st`` (an ``lstat`` of the file now) is the file this digest is of,
        unchanged: same device and inode, size, modification and change times."""
        return (is_address(self.sha256)
                and (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                == (self.device, self.inode, self.size, self.mtime_ns, self.ctime_ns))


@runtime_checkable
class BlobStore(Protocol):
    """A write-once, content-addressed store of blobs."""

    def put_stream(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        """Copy ``stream`` to the store, hashing as it goes; return its address."""
        ...

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store ``data``; return its address."""
        ...

    def put_file(self, path: str, *, max_bytes: int | None = None,
                 known: KnownDigest | None = None) -> StoredBlob:
        """Store the file at ``path`` (on the store's filesystem this may move, not copy);
        ``known``: its digest from its writer, used instead of a second read when the
        store can tell the file is unchanged since."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """Open a blob for reading; raise ``BlobNotFound`` when absent."""
        ...

    def open_range(self, sha256: str, start: int, length: int) -> BinaryIO:
        """Open ``length`` bytes of a blob from byte ``start`` for reading: fewer when the
        blob ends first, none when ``start`` is at or past its end. Only those bytes are
        read from the store (a seek; an HTTP ``Range``). ``BlobNotFound`` when absent,
        ``InvalidRange`` for a negative start or length."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def size(self, sha256: str) -> int: ...

    def iter_blobs(self) -> Iterator[str]:
        """Every blob's SHA-256 (hex), in no particular order."""
        ...

    def rehash(self, sha256: str, *, on_read: Callable[[int], None] | None = None) -> str:
        """Re-read a blob and return the SHA-256 of its current bytes (fixity).

        ``on_read(n)`` is called after each chunk of ``n`` bytes is hashed.
        """
        ...
