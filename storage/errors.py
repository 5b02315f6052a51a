"""Errors raised by blob stores.

    StorageError                 base: anything the store could not do
    ├── BlobNotFound             no blob with that SHA-256
    ├── BlobTooLarge             a write went past its size limit (nothing kept)
    └── StorageUnavailable       the store cannot be read or written (permissions,
                                 disk full, missing directory)
"""

from __future__ import annotations


class StorageError(Exception):
    """The blob store could not complete an operation."""


class BlobNotFound(StorageError):
    """No blob with this SHA-256 is held by the store."""


class BlobTooLarge(StorageError):
    """The content was larger than the limit given for this write; nothing was stored."""


class StorageUnavailable(StorageError):
    """The store's directory cannot be read or written (permissions, disk full, missing)."""
