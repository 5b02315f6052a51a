"""Write-once, content-addressed blob stores.

A blob is named by the SHA-256 of its bytes, is never rewritten, and the same
bytes are stored once. ``LocalBlobStore`` keeps blobs as read-only files under
``<data_dir>/blobs/sha256/ab/cd/<64 hex>`` (docs/design.md, "Data directory");
``S3BlobStore`` keeps them as objects under Object Lock in an S3-compatible bucket
(docs/design.md, "S3-compatible blob store"). The S3 names are imported on first use,
so boto3 loads only in a process that opens a bucket.

    >>> from storage import LocalBlobStore
    >>> store = LocalBlobStore(data_dir / "blobs", data_dir / "tmp")
    >>> with open("clip.mp4", "rb") as f:
    ...     blob = store.put_stream(f, max_bytes=2 << 30)
    >>> store.rehash(blob.sha256) == blob.sha256
    True
"""

from typing import TYPE_CHECKING

from storage._base import BlobStore, KnownDigest, StoredBlob, hash_stream
from storage._reader import HashingReader
from storage.errors import (
    BlobNotFound,
    BlobTooLarge,
    DigestMismatch,
    InvalidAddress,
    InvalidRange,
    SourceUnreadable,
    StorageError,
    StorageUnavailable,
    UploadRefused,
)
from storage.local import LocalBlobStore
from storage.retention import Retention

if TYPE_CHECKING:
    from storage.s3 import BlobLock, BucketStatus, S3BlobStore, S3Settings

_LAZY = frozenset({"BlobLock", "BucketStatus", "S3BlobStore", "S3Settings"})

__all__ = [
    "BlobLock",
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "BucketStatus",
    "DigestMismatch",
    "HashingReader",
    "InvalidAddress",
    "InvalidRange",
    "KnownDigest",
    "LocalBlobStore",
    "Retention",
    "S3BlobStore",
    "S3Settings",
    "SourceUnreadable",
    "StorageError",
    "StorageUnavailable",
    "StoredBlob",
    "UploadRefused",
    "hash_stream",
]


def __getattr__(name: str) -> object:
    """The S3 names, from ``storage.s3`` on first use (PEP 562)."""
    if name in _LAZY:
        import storage.s3

        return getattr(storage.s3, name)
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
