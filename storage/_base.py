"""The interface every blob store implements (local filesystem now, S3-compatible later).

A blob store is write-once and content-addressed: a blob is named by the SHA-256
of its bytes, is never rewritten, and putting the same bytes twice stores them
once. Writers hand the store an open binary stream; the store hashes while it
copies (one pass, fixed buffer) and only makes the blob visible once it is
complete, so a crash never leaves a wrong or partial blob under a valid name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable


@dataclass(frozen=True, kw_only=True)
class StoredBlob:
    """What the store holds after a put: the content's SHA-256 (hex) and size in bytes.

    ``created`` is False when identical content was already present (deduplicated).
    """

    sha256: str
    size: int
    created: bool


@runtime_checkable
class BlobStore(Protocol):
    """A write-once, content-addressed store of blobs."""

    def put_stream(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        """Copy ``stream`` to the store, hashing as it goes; return its address."""
        ...

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store ``data``; return its address."""
        ...

    def put_file(self, path: str, *, max_bytes: int | None = None) -> StoredBlob:
        """Store the file at ``path`` (on the store's filesystem this may move, not copy)."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """Open a blob for reading; raise ``BlobNotFound`` when absent."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def size(self, sha256: str) -> int: ...

    def iter_blobs(self) -> Iterator[str]:
        """Every blob's SHA-256 (hex), in no particular order."""
        ...

    def rehash(self, sha256: str) -> str:
        """Re-read a blob and return the SHA-256 of its current bytes (fixity)."""
        ...
