"""Write-once, content-addressed blob stores.

A blob is named by the SHA-256 of its bytes, is never rewritten, and the same
bytes are stored once. ``LocalBlobStore`` keeps blobs as read-only files under
``<data_dir>/blobs/sha256/ab/cd/<64 hex>`` (docs/design.md, "Data directory").

    >>> from storage import LocalBlobStore
    >>> store = LocalBlobStore(data_dir / "blobs", data_dir / "tmp")
    >>> with open("clip.mp4", "rb") as f:
    ...     blob = store.put_stream(f, max_bytes=2 << 30)
    >>> store.rehash(blob.sha256) == blob.sha256
    True
"""

from storage._base import BlobStore, KnownDigest, StoredBlob, hash_stream
from storage._reader import HashingReader
from storage.errors import (
    BlobNotFound,
    BlobTooLarge,
    DigestMismatch,
    InvalidAddress,
    SourceUnreadable,
    StorageError,
    StorageUnavailable,
)
from storage.local import LocalBlobStore

__all__ = [
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "DigestMismatch",
    "HashingReader",
    "InvalidAddress",
    "KnownDigest",
    "LocalBlobStore",
    "SourceUnreadable",
    "StorageError",
    "StorageUnavailable",
    "StoredBlob",
    "hash_stream",
]
