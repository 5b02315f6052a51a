"""Which bytes of a blob a request asks for (RFC 9110 sections 13.1.5 and 14).

``wanted(range, if_range, etag, size)`` is one of:

- ``None``: send the whole blob (200). That is the answer to no ``Range``, and to every
  ``Range`` this server ignores, as RFC 9110 section 14.2 lets a server do: a unit other
  than ``bytes``, a header that is not a valid ``ranges-specifier`` (garbage, or a range
  whose last byte is before its first), more than one range (no multipart answers),
  a suffix range of an empty blob, and a ``Range`` sent with an ``If-Range`` that is not
  the blob's strong ETag (a date never matches: no ``Last-Modified`` is sent);
- a ``Slice``: send those bytes (206, ``Content-Range: bytes FIRST-LAST/SIZE``);
- ``NotSatisfiable``: one valid byte range with no byte in the blob (its first byte at or
  past the end, or a suffix of length 0): 416 with ``Content-Range: bytes */SIZE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 9110 14.1.1: range-unit "=" first-pos "-" [ last-pos ] / "-" suffix-length; the unit
# is case-insensitive.
_ONE_RANGE = re.compile(r"bytes=(?:(?P<first>[0-9]+)-(?P<last>[0-9]*)|-(?P<suffix>[0-9]+))",
                        re.IGNORECASE)
_HUGE = 1 << 64  # a number of more than 19 digits: past any blob (and int() is not asked)


@dataclass(frozen=True, kw_only=True)
class Slice:
    """``length`` bytes from byte ``start`` (both within the blob, ``length`` >= 1)."""

    start: int
    length: int

    @property
    def last(self) -> int:
        return self.start + self.length - 1


class NotSatisfiable(Exception):
    """A valid single byte range that selects no byte of the blob (416)."""


def wanted(range_header: str | None, if_range: str | None, *, etag: str,
           size: int) -> Slice | None:
    """The slice of a blob of ``size`` bytes to send, None for all of it, or
    ``NotSatisfiable``."""
    if range_header is None:
        return None
    if if_range is not None and if_range.strip() != etag:
        return None
    spec = range_header.strip()
    found = _ONE_RANGE.fullmatch(spec)
    if found is None:
        return None
    if found["suffix"] is not None:
        suffix = _number(found["suffix"])
        if suffix == 0:
            raise NotSatisfiable(spec)
        if size == 0:
            return None
        length = min(suffix, size)
        return Slice(start=size - length, length=length)
    first = _number(found["first"])
    last = _number(found["last"]) if found["last"] else None
    if last is not None and last < first:
        return None  # an invalid range-spec (14.1.1): the header is ignored
    if first >= size:
        raise NotSatisfiable(spec)
    end = size - 1 if last is None else min(last, size - 1)
    return Slice(start=first, length=end - first + 1)


def _number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"  # leading zeros do not make a number larger
    return int(digits) if len(digits) <= 19 else _HUGE
