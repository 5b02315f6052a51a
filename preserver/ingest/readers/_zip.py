"""Office Open XML containers (DOCX, XLSX): what a ZIP holds, and its parts read within bounds.

A DOCX or XLSX is a ZIP of XML parts (ECMA-376 Part 2, Open Packaging Conventions).
``office_kind(data)`` says which one a file is by its content, not its name: the ZIP's
``[Content_Types].xml`` names the main part's type (``…wordprocessingml.document.main+xml``
for Word, ``…spreadsheetml.sheet.main+xml`` for Excel). ``Package.open(data)`` opens one
for a reader. Promised bounds, each checked before or while the bytes are read, never by
trusting the sizes a ZIP's headers state:

- at most ``MAX_PARTS`` parts and a central directory of at most ``MAX_DIRECTORY`` bytes,
  counted from the end records (APPNOTE.TXT 4.3.14-16) before ``zipfile`` builds an
  entry per member ("has 20000 parts");
- only stored and deflated parts, not encrypted; each name once (OPC part names are
  case-insensitive, ECMA-376 Part 2, 8.1.1: two entries of one name would let a reader
  pick either); each part's local header at a real offset, naming the part its entry
  names, and its data ending before the next header or the central directory begins
  (no entry overlapping another: the "overlapping files" bomb);
- parts are inflated here, from the file's bytes, a chunk at a time: each part read
  decompresses at most ``MAX_PART`` bytes, all parts together at most ``MAX_TOTAL``,
  and a part whose output passes ``RATIO_FREE`` bytes and ``MAX_RATIO`` times the
  compressed bytes consumed so far is a decompression bomb, refused at that chunk;
  a part's CRC-32 and size are checked against its header once it is read;
- XML is parsed with ``defusedxml``: a DTD (so any entity: "billion laughs", external
  entities) is refused, nothing is expanded or fetched.

Every failure (a truncated or corrupt ZIP, a missing part, bad XML) is an
``InvalidReport`` with a one-line message; no ``zipfile.BadZipFile``, ``KeyError``,
``zlib.error`` or ``ParseError`` escapes.
"""

from __future__ import annotations

import io
import posixpath
import struct
import zipfile
import zlib
from collections.abc import Iterator
from itertools import pairwise
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring, iterparse

from preserver.errors import InvalidReport

MAX_PARTS = 10_000
MAX_DIRECTORY = 4 << 20  # a central directory: ~400 bytes a part at most
MAX_PART = 256 << 20  # decompressed bytes of one part
MAX_TOTAL = 512 << 20  # decompressed bytes of all the parts a reader reads
MAX_SMALL = 32 << 20  # a part read whole (relationships, styles, numbering)
MAX_RATIO = 100  # deflated XML is ~5-20-fold; a bomb is ~1000-fold
RATIO_FREE = 4 << 20  # a part this small may have any ratio
ZIP_MAGIC = b"PK\x03\x04"
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_CHUNK = 64 << 10
_INPUT = 4 << 10  # compressed bytes fed at once: small, as each call copies what is left

Kind = Literal["docx", "xlsx"]
# The main part's content type -> the format (ECMA-376 Part 1, 11.3.10 and 12.3.23; the
# macro-enabled and template variants hold the same XML, and macros are never run).
_MAIN_TYPES: dict[str, Kind] = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": "docx",
    "application/vnd.ms-word.document.macroEnabled.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "xlsx",
}
_ODF = b"mimetype"  # an OpenDocument file's first part (ODF 1.2 Part 3, 3.3)
_XML_ERRORS = (ParseError, DefusedXmlException, ValueError)


def local(tag: str) -> str:
    """An element's or attribute's name without its namespace: ``{ns}p`` -> ``p``."""
    return tag.rpartition("}")[2]


def attr(element: Element, name: str) -> str | None:
    """The attribute ``name`` of ``element`` in any namespace (``w:val`` -> ``val``)."""
    value = element.get(name)
    if value is not None:
        return value
    for key, value in element.attrib.items():
        if local(key) == name:
            return value
    return None


def office_kind(data: bytes) -> Kind | None:
    """``"docx"`` or ``"xlsx"`` for a Word or Excel file, whatever its name; None for other
    content (an OpenDocument file, a plain ZIP, not a ZIP). ``InvalidReport`` for a ZIP that
    cannot be opened safely (truncated, corrupt, too many parts), which no reader can read."""
    if not data.startswith(ZIP_MAGIC) or data[30:38] == _ODF:
        return None
    return Package.open(data).kind


class Package:
    """An opened DOCX or XLSX (or another ZIP: ``kind`` None); reads count against its budget."""

    def __init__(self, data: bytes, archive: zipfile.ZipFile, kind: Kind | None,
                 main: str | None) -> None:
        self._data = data
        self._zip = archive
        self.kind = kind
        self.main = main  # the main part's name: word/document.xml, xl/workbook.xml
        self._budget = MAX_TOTAL
        # where each part's data must end: the next local header, else the central directory
        starts = sorted({info.header_offset for info in archive.infolist()} | {
            archive.start_dir})
        self._ends = dict(pairwise(starts))

    @classmethod
    def open(cls, data: bytes) -> Package:
        _check_directory(data)
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
                struct.error, NotImplementedError) as exc:  # a version zipfile cannot read
            raise InvalidReport(f"a truncated or corrupt ZIP container: {exc}") from exc
        if len(archive.infolist()) > MAX_PARTS:
            raise InvalidReport(f"the ZIP container has {len(archive.infolist())} parts, "
                                f"more than {MAX_PARTS}")
        seen: set[str] = set()
        for info in archive.infolist():
            if info.filename.lower() in seen:
                raise InvalidReport(f"the ZIP container has two parts named {info.filename}")
            seen.add(info.filename.lower())
        package = cls(data, archive, None, None)
        if "[Content_Types].xml" in archive.NameToInfo:
            types = package.xml("[Content_Types].xml")
            for override in types:
                kind = _MAIN_TYPES.get((attr(override, "ContentType") or "").strip())
                name = (attr(override, "PartName") or "").lstrip("/")
                if kind is not None and name:
                    package.kind, package.main = kind, name
                    break
        return package

    def has(self, name: str) -> bool:
        return name in self._zip.NameToInfo

    def read(self, name: str, *, limit: int = MAX_SMALL) -> bytes:
        """The whole part ``name``, at most ``limit`` bytes once decompressed."""
        with self.open_part(name, limit=limit) as stream:
            return stream.read()

    def xml(self, name: str) -> Element:
        """The small part ``name`` parsed (defusedxml: no DTD, no entities)."""
        data = self.read(name)
        try:
            root: Element = fromstring(data, forbid_dtd=True)
        except DefusedXmlException as exc:
            raise InvalidReport(f"{name}: {_refused(exc)}") from exc
        except _XML_ERRORS as exc:
            raise InvalidReport(f"{name}: not well-formed XML: {exc}") from exc
        return root

    def iterparse(self, name: str) -> Iterator[tuple[str, Element]]:
        """("start" | "end", element) events of the part ``name``, streamed: a caller that
        clears what it has handled holds one block of the document at once."""
        with self.open_part(name, limit=MAX_PART) as stream:
            try:
                yield from iterparse(stream, events=("start", "end"), forbid_dtd=True)
            except DefusedXmlException as exc:
                raise InvalidReport(f"{name}: {_refused(exc)}") from exc
            except _XML_ERRORS as exc:
                raise InvalidReport(f"{name}: not well-formed XML: {exc}") from exc

    def open_part(self, name: str, *, limit: int) -> _Bounded:
        """A stream of the part ``name``, decompressed here from the file's bytes (not by
        ``zipfile``), so that the ratio is counted against the compressed bytes read."""
        info = self._zip.NameToInfo.get(name)
        if info is None:
            raise InvalidReport(f"the part {name} is missing")
        if info.compress_type not in _METHODS:
            raise InvalidReport(f"{name}: compressed with method {info.compress_type}, "
                                "not stored or deflated")
        if info.flag_bits & 0x1:
            raise InvalidReport(f"{name}: encrypted")
        at = info.header_offset
        local_header = self._data[at:at + 30] if at >= 0 else b""
        if len(local_header) < 30 or local_header[:4] != ZIP_MAGIC:
            raise InvalidReport(f"{name}: a truncated or corrupt part (no local header)")
        names, extra = struct.unpack("<HH", local_header[26:30])
        # APPNOTE.TXT 4.4.17: the local header names the part as its central entry does
        if self._data[at + 30:at + 30 + names] != _raw_name(info):
            raise InvalidReport(f"{name}: a corrupt part (its local header names another)")
        begin = at + 30 + names + extra
        if begin + info.compress_size > len(self._data):
            raise InvalidReport(f"{name}: a truncated part ({info.compress_size} bytes "
                                f"stated, {max(0, len(self._data) - begin)} there)")
        if begin + info.compress_size > self._ends.get(at, len(self._data)):
            raise InvalidReport(f"{name}: a corrupt part (its data overlaps the next part "
                                "or the central directory)")
        body = memoryview(self._data)[begin:begin + info.compress_size]
        return _Bounded(self, body, info, min(limit, MAX_PART))

    def relationships(self, part: str) -> dict[str, tuple[str, str, bool]]:
        """``part``'s relationships (OPC 9.3): id -> (type, target, external). The type is
        its URI's last segment (``header``); an internal target is resolved to a part
        name (``word/footnotes.xml``). No ``.rels`` part: {}."""
        folder, base = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", base + ".rels")
        if not self.has(rels):
            return {}
        found: dict[str, tuple[str, str, bool]] = {}
        for rel in self.xml(rels):
            rel_id, target = attr(rel, "Id"), attr(rel, "Target")
            if rel_id is None or target is None:
                continue
            external = (attr(rel, "TargetMode") or "").lower() == "external"
            if not external:
                target = (target.lstrip("/") if target.startswith("/")
                          else posixpath.normpath(posixpath.join(folder, target)))
            found[rel_id] = ((attr(rel, "Type") or "").rpartition("/")[2], target, external)
        return found

    def spend(self, count: int, name: str) -> None:
        self._budget -= count
        if self._budget < 0:
            raise InvalidReport(f"{name}: the parts decompress to more than {MAX_TOTAL} bytes")


class _Bounded(io.RawIOBase):
    """A part's decompressed bytes, refused past its bound, the package's, or the ratio
    (decompressed bytes over the compressed bytes consumed so far); at its end the CRC
    and the size its header states are checked."""

    def __init__(self, package: Package, body: memoryview, info: zipfile.ZipInfo,
                 limit: int) -> None:
        super().__init__()
        self._package, self._body, self._info, self._limit = package, body, info, limit
        self._inflate = (zlib.decompressobj(-zlib.MAX_WBITS)
                         if info.compress_type == zipfile.ZIP_DEFLATED else None)
        self._fed = self._count = self._crc = 0
        self._pending = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(_CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        chunk = self._next(max(1, min(size, self._limit - self._count + 1)))
        name = self._info.filename
        self._count += len(chunk)
        self._package.spend(len(chunk), name)
        if self._count > self._limit:
            raise InvalidReport(f"{name}: decompresses to more than {self._limit} bytes")
        consumed = max(1, self._fed - len(self._pending))
        if self._count > RATIO_FREE and self._count > MAX_RATIO * consumed:
            raise InvalidReport(f"{name}: a decompression bomb (more than {MAX_RATIO} times "
                                f"the {consumed} compressed bytes read)")
        self._crc = zlib.crc32(chunk, self._crc)
        if not chunk:
            self._finish()
        return chunk

    def _next(self, size: int) -> bytes:
        if self._inflate is None:  # stored
            chunk = bytes(self._body[self._fed:self._fed + size])
            self._fed += len(chunk)
            return chunk
        try:
            while True:
                if not self._pending and self._fed < len(self._body):
                    self._pending = bytes(self._body[self._fed:self._fed + _INPUT])
                    self._fed += len(self._pending)
                if self._inflate.eof:
                    return b""
                if not self._pending:  # all fed: what zlib still holds (a match cut by
                    return self._inflate.decompress(b"", size)  # ``size``), else the end
                chunk = self._inflate.decompress(self._pending, size)
                self._pending = self._inflate.unconsumed_tail
                if chunk:
                    return chunk
        except zlib.error as exc:
            raise InvalidReport(f"{self._info.filename}: a corrupt part: {exc}") from exc

    def _finish(self) -> None:
        name = self._info.filename
        if self._inflate is not None and not self._inflate.eof:
            raise InvalidReport(f"{name}: a truncated part (its compressed data ends early)")
        if self._count != self._info.file_size or self._crc != self._info.CRC:
            raise InvalidReport(f"{name}: a corrupt part (its size or CRC is not what its "
                                "header states)")

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    """The name as the central directory's bytes hold it (zipfile decoded them)."""
    if info.flag_bits & 0x800:  # APPNOTE.TXT 4.4.4 bit 11: UTF-8
        return info.orig_filename.encode("utf-8")
    return info.orig_filename.encode("cp437")


def _refused(exc: DefusedXmlException) -> str:
    return (f"a document type declaration (DTD) or entity, which is never read: "
            f"{type(exc).__name__}")


def _check_directory(data: bytes) -> None:
    """Refuse a ZIP whose end record (APPNOTE.TXT 4.3.16, 4.3.14 for ZIP64) counts more
    than ``MAX_PARTS`` parts or a central directory over ``MAX_DIRECTORY`` bytes, before
    ``zipfile`` reads an entry per part; found as ``zipfile._EndRecData`` finds them (see
    ``manifests.package._check_central_directory``, which does the same for a file)."""
    start = max(0, len(data) - (1 << 16) - 22)
    tail = data[start:]
    at = len(tail) - 22
    if at < 0 or tail[at:at + 4] != b"PK\x05\x06" or tail[-2:] != b"\0\0":
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise InvalidReport("a truncated or corrupt ZIP container (no end of central "
                            "directory record)")
    parts, central = struct.unpack("<HI", tail[at + 10:at + 16])
    ends = start + at
    record = data[ends - 76:ends] if ends >= 76 else b""
    if record[:4] == b"PK\x06\x06" and record[56:60] == b"PK\x06\x07":
        parts, central = struct.unpack("<QQ", record[32:48])
        ends -= 76
    if parts > MAX_PARTS:
        raise InvalidReport(f"the ZIP container has {parts} parts, more than {MAX_PARTS}")
    if central > MAX_DIRECTORY:
        raise InvalidReport(f"the ZIP container has a central directory of {central} bytes, "
                            f"more than {MAX_DIRECTORY}")
    entries = data[max(0, ends - central):ends].count(b"PK\x01\x02")
    if entries > MAX_PARTS:
        raise InvalidReport(f"the ZIP container has {entries} parts, more than {MAX_PARTS}")
