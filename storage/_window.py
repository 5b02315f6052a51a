"""``Window``: at most ``length`` bytes of a binary stream, from where the stream stands.

A ranged read of a local blob (``LocalBlobStore.open_range``) is the blob's file, seeked to
the range's start, behind a ``Window`` of the range's length: reads stop at the range's
end (or the file's, if it comes first) without reading past it, in the caller's chunk
sizes, so memory stays flat whatever the range. Closing the window closes the stream.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

__all__ = ["Window", "check_range"]


def check_range(start: object, length: object) -> tuple[int, int]:
    """``(start, length)`` when both are integers >= 0, else ``InvalidRange``."""
    from storage.errors import InvalidRange

    if (not isinstance(start, int) or isinstance(start, bool) or start < 0
            or not isinstance(length, int) or isinstance(length, bool) or length < 0):
        raise InvalidRange(f"a range needs a start and a length >= 0, not {start!r}, {length!r}")
    return start, length


class Window(io.RawIOBase):
    """The next ``length`` bytes of ``stream`` as a raw binary file."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self._stream = stream
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        view = view[:min(len(view), self._left)]
        got = self._stream.readinto(view)  # type: ignore[attr-defined]
        got = got or 0
        self._left -= got
        return got

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()
