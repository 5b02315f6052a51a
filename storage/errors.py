"""Errors raised by blob stores.

    StorageError                 base: anything the store could not do
    ├── BlobNotFound             no blob with that SHA-256
    │   └── InvalidAddress       the argument is not a SHA-256 address at all
    ├── BlobTooLarge             a write or read went past its size limit (nothing kept)
    ├── InvalidRange             a ranged read with a negative start or length
    ├── DigestMismatch           bytes read do not have the SHA-256 they were expected to have
    ├── SourceUnreadable         the stream or file handed to the store could not be read
    ├── UploadRefused            the bucket refused an upload (its checksum did not match)
    └── StorageUnavailable       the store cannot be read or written (permissions,
                                 disk full, missing directory; a bucket that cannot
                                 be reached, is missing, refuses the credentials,
                                 or has no Object Lock)

Whatever the error, a failed write leaves nothing under the blob directory (or the
bucket's prefix): at most a temporary file in the store's temporary directory, which
the store removes itself, or an unfinished multipart upload, which it aborts.
"""

from __future__ import annotations


class StorageError(Exception):
    """The blob store could not complete an operation."""


class BlobNotFound(StorageError):
    """No blob with this SHA-256 is held by the store."""


class InvalidAddress(BlobNotFound):
    """A blob address must be a SHA-256 digest written as 64 lowercase hex characters."""


class BlobTooLarge(StorageError):
    """The content was larger than the limit given for this write; nothing was stored."""


class InvalidRange(StorageError):
    """A ranged read (``open_range``) was asked for a negative start or length."""


class DigestMismatch(StorageError):
    """The bytes read do not have the SHA-256 they were expected to have: they were altered."""

    def __init__(self, *, expected: str, actual: str, size: int) -> None:
        super().__init__(f"expected SHA-256 {expected}, read {actual} ({size} bytes)")
        self.expected = expected
        self.actual = actual
        self.size = size


class SourceUnreadable(StorageError):
    """The file or stream given to the store could not be read; nothing was stored."""


class UploadRefused(StorageError):
    """The bucket refused an upload because the bytes it received do not have the SHA-256
    sent with them: they were altered on the way. Nothing was stored; the write may be
    tried again."""


class StorageUnavailable(StorageError):
    """The store cannot be read or written: its directory (permissions, disk full,
    missing), or its bucket (unreachable, missing, credentials refused, no Object Lock)."""
