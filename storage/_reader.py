"""``HashingReader``: a stream wrapper that hashes, counts and caps what is read through it.

Every copy that hashes reads through one of these, so "read, hash, cap" is written
once (warcio ``limitreader.LimitReader`` and ``bufferedreaders.DigestVerifyingReader``
are the model). It keeps the file interface: the caller reads chunks with
``read(n)`` and writes them wherever it likes; the reader sees every byte once.

- ``limit``: more than ``limit`` bytes is ``BlobTooLarge``, raised from the
  ``read`` that crossed it. At most ``limit + 1`` bytes are ever asked of the
  underlying stream, so an endless source costs one byte past the limit.
- ``expected``: the SHA-256 (64 lowercase hex) the bytes must have. At EOF a
  different digest is ``DigestMismatch``, raised from the ``read`` that found the end.
- After EOF (a ``read`` that returns ``b""`` for a non-zero size) ``sha256`` is the
  digest of everything read; ``size`` counts the bytes read so far at any time.

    >>> import io
    >>> reader = HashingReader(io.BytesIO(b"abc"), limit=3)
    >>> while reader.read(2): pass
    >>> reader.sha256[:16], reader.size
    ('ba7816bf8f01cfea', 3)
"""

from __future__ import annotations

import hashlib
from typing import IO

from storage.errors import BlobTooLarge, DigestMismatch, StorageError

__all__ = ["HashingReader"]


class HashingReader:
    """Read ``stream`` through a SHA-256, a byte count and an optional size limit."""

    def __init__(self, stream: IO[bytes], *, limit: int | None = None,
                 expected: str | None = None) -> None:
        self._stream = stream
        self._limit = limit
        self._expected = expected
        self._digest = hashlib.sha256()
        self._size = 0
        self._sha256: str | None = None

    @property
    def size(self) -> int:
        """Bytes read so far."""
        return self._size

    @property
    def sha256(self) -> str:
        """The SHA-256 (hex) of the whole stream; known once it has been read to its end."""
        if self._sha256 is None:
            raise StorageError("the SHA-256 is known only once the stream has been read to its end")
        return self._sha256

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that remain when negative); ``b""`` at EOF."""
        if self._sha256 is not None:
            return b""
        want = size
        if self._limit is not None:  # never ask for more than one byte past the limit
            room = self._limit - self._size + 1
            want = room if size < 0 else min(size, room)
        chunk = self._stream.read(want)
        if not chunk:
            if size != 0:
                self._finish()
            return b""
        self._size += len(chunk)
        if self._limit is not None and self._size > self._limit:
            raise BlobTooLarge(f"more than {self._limit} bytes")
        self._digest.update(chunk)
        return chunk

    def _finish(self) -> None:
        self._sha256 = self._digest.hexdigest()
        if self._expected is not None and self._sha256 != self._expected:
            raise DigestMismatch(expected=self._expected, actual=self._sha256, size=self._size)
