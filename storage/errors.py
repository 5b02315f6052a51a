"""Errors raised by blob stores.

    StorageError                 base: anything the store could not do
    ├── BlobNotFound             no blob with that SHA-256
    │   └── InvalidAddress       the argument is not a SHA-256 address at all
    ├── BlobTooLarge             a write or read went past its size limit (nothing kept)
    ├── DigestMismatch           bytes read do not have the SHA-256 they were expected to have
    ├── SourceUnreadable         the stream or file handed to the store could not be read
    └── StorageUnavailable       the store cannot be read or written (permissions,
                                 disk full, missing directory)

Whatever the error, a failed write leaves nothing under the blob directory: at most
a temporary file in the store's temporary directory, which the store removes itself.
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


class DigestMismatch(StorageError):
    """The bytes read do not have the SHA-256 they were expected to have: they were altered."""

    def __init__(self, *, expected: str, actual: str, size: int) -> None:
        super().__init__(f"expected SHA-256 {expected}, read {actual} ({size} bytes)")
        self.expected = expected
        self.actual = actual
        self.size = size


class SourceUnreadable(StorageError):
    """The file or stream given to the store could not be read; nothing was stored."""


class StorageUnavailable(StorageError):
    """The store's directory cannot be read or written (permissions, disk full, missing)."""
