"""The charset an HTML file declares in a ``<meta>``, found as browsers find it.

``declared_charset(data)`` is the HTML Standard's "prescan a byte stream to determine
its encoding" (section 13.2.3.2) over the first ``PRESCAN_BYTES`` bytes: comments and
other tags' attributes are skipped; the first ``<meta charset=…>``, or ``<meta
http-equiv="Content-Type" content="…; charset=…">`` (the ``content`` alone is not
enough), whose label names an encoding decides. As the standard says, a label no
encoding has is passed over (the scan goes on), "utf-16" declared in a file the scan
could read as ASCII means UTF-8, and "x-user-defined" means windows-1252. A ``<meta>``
that ends beyond the first 1024 bytes is not seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from preserver.ingest.readers._labels import Encoding, lookup

PRESCAN_BYTES = 1024
_SPACE = b"\t\n\x0c\r "
_META = re.compile(rb"<meta[\t\n\x0c\r /]", re.IGNORECASE)
_TAG = re.compile(rb"</?[A-Za-z]")
_CHARSET = re.compile(rb"charset", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class Declared:
    """What a ``<meta>`` declares: the label as written, and the encoding it names."""

    label: str
    encoding: Encoding


class _End(Exception):
    """The scan ran past the bytes it may look at."""


def declared_charset(data: bytes) -> Declared | None:
    """The encoding the first ``<meta>`` that declares one names; None if none does."""
    scan = _Scan(data[:PRESCAN_BYTES])
    try:
        return scan.run()
    except _End:
        return None


class _Scan:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise _End
        return self.data[self.pos]

    def skip(self, chars: bytes) -> None:
        while self.byte() in chars:
            self.pos += 1

    def run(self) -> Declared | None:
        data = self.data
        while self.pos < len(data):
            if data.startswith(b"<!--", self.pos):
                end = data.find(b"-->", self.pos + 2)
                if end < 0:
                    return None
                self.pos = end + 3
                continue
            if _META.match(data, self.pos):
                self.pos += 5
                if (found := self.meta()) is not None:
                    return found
            elif _TAG.match(data, self.pos):
                while self.byte() not in _SPACE + b">":
                    self.pos += 1
                while self.attribute() is not None:
                    pass
            elif data.startswith((b"<!", b"</", b"<?"), self.pos):
                end = data.find(b">", self.pos + 2)
                if end < 0:
                    return None
                self.pos = end
            self.pos += 1
        return None

    def meta(self) -> Declared | None:
        seen: set[bytes] = set()
        got_pragma = False
        need_pragma: bool | None = None
        charset: tuple[str, Encoding | None] | None = None
        while (attribute := self.attribute()) is not None:
            name, value = attribute
            if name in seen:
                continue
            seen.add(name)
            if name == b"http-equiv":
                got_pragma = got_pragma or value == b"content-type"
            elif name == b"content" and charset is None:
                if (label := _from_content(value)) is not None:
                    charset, need_pragma = (label, lookup(label)), True
            elif name == b"charset":
                label = value.decode("latin-1")
                charset, need_pragma = (label, lookup(label)), False
        if need_pragma is None or (need_pragma and not got_pragma) or charset is None:
            return None
        label, encoding = charset
        if encoding is None:
            return None  # a label no encoding has: the scan goes on
        if encoding.name in ("UTF-16BE", "UTF-16LE"):
            encoding = lookup("utf-8")
        elif encoding.name == "x-user-defined":
            encoding = lookup("windows-1252")
        assert encoding is not None
        return Declared(label=label, encoding=encoding)

    def attribute(self) -> tuple[bytes, bytes] | None:
        """The standard's "get an attribute": (name, value) lower-cased, or None at ``>``."""
        self.skip(_SPACE + b"/")
        if self.byte() == ord(">"):
            return None
        name = bytearray()
        while True:
            b = self.byte()
            if b == ord("=") and name:
                self.pos += 1
                break
            if b in _SPACE:
                self.skip(_SPACE)
                if self.byte() != ord("="):
                    return bytes(name), b""
                self.pos += 1
                break
            if b in b"/>":
                return bytes(name), b""
            name.append(b | 0x20 if 0x41 <= b <= 0x5A else b)
            self.pos += 1
        self.skip(_SPACE)
        value = bytearray()
        quote = self.byte()
        if quote in b"\"'":
            self.pos += 1
            while (b := self.byte()) != quote:
                value.append(b | 0x20 if 0x41 <= b <= 0x5A else b)
                self.pos += 1
            self.pos += 1
            return bytes(name), bytes(value)
        if quote == ord(">"):
            return bytes(name), b""
        while (b := self.byte()) not in _SPACE + b">":
            value.append(b | 0x20 if 0x41 <= b <= 0x5A else b)
            self.pos += 1
        return bytes(name), bytes(value)


def _from_content(value: bytes) -> str | None:
    """The label in a ``content`` attribute ("text/html; charset=windows-1256"), by the
    standard's "extracting a character encoding from a meta element"; None if none."""
    pos = 0
    while (found := _CHARSET.search(value, pos)) is not None:
        pos = found.end()
        while pos < len(value) and value[pos] in _SPACE:
            pos += 1
        if pos >= len(value) or value[pos] != ord("="):
            continue
        pos += 1
        while pos < len(value) and value[pos] in _SPACE:
            pos += 1
        if pos >= len(value):
            return None
        if value[pos] in b"\"'":
            end = value.find(value[pos : pos + 1], pos + 1)
            return None if end < 0 else value[pos + 1 : end].decode("latin-1")
        end = pos
        while end < len(value) and value[end] not in _SPACE + b";":
            end += 1
        return value[pos:end].decode("latin-1")
    return None
