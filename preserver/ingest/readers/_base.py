"""The reader interface, the checks every report passes, and text decoding.

A *reader* turns one file format into plain text. ``read`` picks it by the
content's signature (a reader that sniffs ``%PDF-`` reads a PDF whatever its
name; a ZIP is read as Word or Excel when the reader identifies it from the whole
file), else by the file extension, else by sniffing the content when the
extension is missing or unknown, after checks that hold for every format: the
path is a readable regular file, not empty, at most ``max_bytes``. A reader with
``extract_path`` (PDF: its library opens the file itself) is handed the path in
place of the bytes, with its own size limit, and the SHA-256 is computed while
streaming the file, so such a report is never held in memory whole; as the file is
then opened more than once, one that changed meanwhile (replaced, or written to) is
refused, so the text and the hash are always of the same bytes. Every open of the
report (``open_regular``) is non-blocking and checks the descriptor it got is a regular
file: a path swapped for a FIFO after the first check is refused, never waited on. Every
failure is an ``InvalidReport`` whose one-line message names the file and the
cause; no ``OSError``, ``UnicodeDecodeError`` or ``ValueError`` escapes.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from preserver.errors import InvalidReport

SNIFF_BYTES = 4096

# Formats we recognise but cannot read (yet). A reader registered for one of
# these extensions or signatures takes precedence over this table.
UNSUPPORTED: dict[str, str] = {
    ".doc": "Word 97-2003 (DOC) reports are not supported",
    ".odt": "OpenDocument (ODT) reports are not supported",
    ".ods": "OpenDocument (ODS) spreadsheets are not supported",
    ".xls": "Excel 97-2003 (XLS) workbooks are not supported: save it as XLSX or CSV",
    ".rtf": "RTF reports are not supported",
    ".exe": "an executable program, not a report",
    ".dll": "an executable program, not a report",
    ".zip": "an archive, not a report: unpack it and pass the report inside",
}
# What a file is, by its first bytes: (signature, what it is, why we cannot read it).
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    # A DOCX or XLSX is a ZIP too: its reader identifies it first (Reader.identify).
    (b"PK\x03\x04", ("a ZIP container that is neither a Word (DOCX) nor an Excel (XLSX) "
                     "file (an OpenDocument file or an archive)"), "only DOCX and XLSX are read"),
    (b"\xd0\xcf\x11\xe0", "a Word or Excel 97-2003 document",
     "not supported: save it as DOCX, XLSX or CSV"),
    (b"{\\rtf", "an RTF document", UNSUPPORTED[".rtf"]),
    (b"MZ", "a Windows program", "not a report"),  # weak: see _WEAK
    (b"\x7fELF", "a Linux program", "not a report"),
    (b"\x89PNG", "a PNG image", "not a report"),
    (b"\xff\xd8\xff", "a JPEG image", "not a report"),
    (b"GIF8", "a GIF image", "not a report"),
)
# Signatures short enough to begin a sentence ("MZ-2024 …", "GIF89a is …"): they name a
# file's content only when the rest of its first bytes are not text.
_WEAK = (b"MZ", b"GIF8")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
# What str.splitlines splits on, besides "\n"; "\r\n" is one boundary.
_LINE_BREAK = re.compile("\r\n?|[\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


@dataclass(frozen=True, kw_only=True)
class ReportText:
    """A report's text as preserver reads it; citations point into ``text``."""

    name: str  # file name (basename) of the report
    media_type: str  # "text/plain" | "text/markdown" | "text/html"
    sha256: str  # SHA-256 hex of the file's raw bytes
    size: int  # bytes
    text: str  # plain text, lines separated by "\n"; citation line numbers refer to it
    # For paged formats (PDF): the 1-based line of ``text`` each page begins on, in
    # page order (the first is 1); () for formats without pages.
    page_lines: tuple[int, ...] = ()
    # The encoding the bytes were decoded with, by its WHATWG name ("windows-1256"),
    # where the reader chose among several (HTML); None where it did not record it.
    encoding: str | None = None
    # For tables (CSV, XLSX): the 1-based line each table (sheet) begins on, ascending;
    # from the first, each line is one row, written ``label<TAB>cells…``, the text before
    # its first tab its links' label (``preserver.ingest.links.iter_links``); () for text.
    tables: tuple[int, ...] = ()

    def page_of(self, line: int) -> int | None:
        """The 1-based page that ``line`` is on, or None for a format without pages."""
        if not self.page_lines:
            return None
        return max(1, bisect_right(self.page_lines, line))


@dataclass(frozen=True, kw_only=True)
class Extracted:
    """What a reader of a paged format returns: the text and where each page begins."""

    text: str
    page_lines: tuple[int, ...] = ()  # as ``ReportText.page_lines``
    encoding: str | None = None  # as ``ReportText.encoding``
    tables: tuple[int, ...] = ()  # as ``ReportText.tables``


@dataclass(frozen=True, kw_only=True)
class Reader:
    """One report format. Register it in ``preserver.ingest.readers._READERS``."""

    media_type: str
    extensions: frozenset[str]  # lower case, with the dot: {".txt"}
    sniff: Callable[[bytes], bool]  # do these first bytes look like this format?
    # the whole file -> plain text (or text with its pages); raises InvalidReport
    extract: Callable[[bytes], str | Extracted]
    # the file's path -> the same, for a format whose library reads the file itself:
    # used in place of ``extract``, up to ``max_bytes`` (default: ``read``'s limit)
    extract_path: Callable[[Path], str | Extracted] | None = None
    max_bytes: int | None = None
    # a binary format's first bytes: a file that begins with them is read by this
    # reader whatever its name (``sniff`` must accept it too)
    signature: bytes | None = None
    # with ``signature``: the whole file -> is it this format, judged by its content? (a
    # ZIP is Word or Excel by its [Content_Types].xml); False lets the next reader or the
    # signatures table judge. May raise InvalidReport for content it recognises but
    # cannot open safely (a corrupt ZIP, one of too many parts). None: the signature says.
    identify: Callable[[bytes], bool] | None = None


def read(path: Path, readers: Sequence[Reader], *, max_bytes: int) -> ReportText:
    """Check and read the report at ``path`` with the reader its type calls for."""
    info = _check_file(path)
    size = info.st_size
    head = _read_head(path)
    reader, data = _choose(path, head, readers, size=size, max_bytes=max_bytes)
    limit = reader.max_bytes or max_bytes
    if size > limit:
        raise InvalidReport(f"{path}: {size} bytes, over the limit of {limit} bytes")
    try:
        if reader.extract_path is not None:  # a file that is not one fails before hashing
            extracted = reader.extract_path(path)
            sha256, size = _hash_file(path, limit)
            _check_unchanged(path, info, size)
        else:
            data = data if data is not None else _read_bytes(path, limit)
            sha256, size = hashlib.sha256(data).hexdigest(), len(data)
            extracted = reader.extract(data)
            del data
    except InvalidReport as exc:
        raise InvalidReport(f"{path}: {exc}") from exc
    if isinstance(extracted, str):
        extracted = Extracted(text=extracted)
    text = extracted.text
    if not text.strip():
        raise InvalidReport(f"{path}: the report has no text (only whitespace or markup)")
    return ReportText(
        name=path.name,
        media_type=reader.media_type,
        sha256=sha256,
        size=size,
        text=text,
        page_lines=extracted.page_lines,
        encoding=extracted.encoding,
        tables=extracted.tables,
    )


def _check_file(path: Path) -> os.stat_result:
    """The status of the regular file at ``path``."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        if path.is_symlink():
            raise InvalidReport(f"{path}: broken symbolic link (no such target)") from exc
        raise InvalidReport(f"{path}: no such file") from exc
    except PermissionError as exc:
        raise InvalidReport(f"{path}: permission denied") from exc
    except (OSError, ValueError) as exc:  # ENOTDIR, ENAMETOOLONG, ELOOP; NUL in the path
        raise InvalidReport(f"{path}: cannot read the report: {_reason(exc)}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise InvalidReport(f"{path}: is a directory, not a report file")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidReport(f"{path}: not a regular file (a FIFO, socket or device)")
    return info


def _check_unchanged(path: Path, before: os.stat_result, size: int) -> None:
    """The file read in several passes is the one first seen: same inode, size and
    modification time (a report replaced or written to while it was read would give
    text of one file and the hash of another)."""
    try:
        after = path.stat()
    except OSError as exc:
        raise InvalidReport(f"cannot read the report: {_reason(exc)}") from exc
    fields = ("st_dev", "st_ino", "st_size", "st_mtime_ns")
    if size != before.st_size or any(getattr(after, f) != getattr(before, f) for f in fields):
        raise InvalidReport("the file changed while it was read")


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading, if what was opened is a regular file.

    ``O_NONBLOCK``: opening a FIFO waits for a writer, and one swapped in for the report
    after ``stat`` would block for ever; the descriptor's own ``fstat`` then decides, so
    what is read is what was checked. Raises ``InvalidReport`` for anything but a regular
    file, ``OSError`` where it cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidReport("not a regular file (a FIFO, socket or device)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_head(path: Path) -> bytes:
    try:
        with open_regular(path) as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError as exc:
        raise InvalidReport(f"{path}: cannot read the report: {_reason(exc)}") from exc
    except InvalidReport as exc:
        raise InvalidReport(f"{path}: {exc}") from exc
    if not head:
        raise InvalidReport(f"{path}: empty file")
    return head


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        with open_regular(path) as stream:
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidReport(f"cannot read the report: {_reason(exc)}") from exc
    if len(data) > max_bytes:  # grew since stat()
        raise InvalidReport(f"over the limit of {max_bytes} bytes")
    if not data:
        raise InvalidReport("empty file")
    return data


def _hash_file(path: Path, max_bytes: int) -> tuple[str, int]:
    """SHA-256 and size of the file, read in fixed chunks (never whole)."""
    digest, size = hashlib.sha256(), 0
    try:
        with open_regular(path) as stream:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:  # grew since stat()
                    raise InvalidReport(f"over the limit of {max_bytes} bytes")
                digest.update(chunk)
    except OSError as exc:
        raise InvalidReport(f"cannot read the report: {_reason(exc)}") from exc
    return digest.hexdigest(), size


def _reason(exc: OSError | ValueError) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _choose(path: Path, head: bytes, readers: Sequence[Reader], *, size: int,
            max_bytes: int) -> tuple[Reader, bytes | None]:
    """The reader for a file beginning with ``head``: its content decides over its name.
    A known binary signature is read by the reader that sniffs it (a PDF named .txt is
    read as a PDF; a ZIP that a reader identifies as its own) or else refused whatever
    the extension says, naming the mismatch. With the reader, the file's bytes if they
    were read to identify it (else None)."""
    suffix = path.suffix.lower()
    head = head[:SNIFF_BYTES]
    data: bytes | None = None
    for reader in readers:
        if reader.signature is None or not head.startswith(reader.signature):
            continue
        if reader.identify is None:
            return reader, data
        if data is None:
            if size > max_bytes:
                raise InvalidReport(f"{path}: {size} bytes, over the limit of {max_bytes} bytes")
            try:
                data = _read_bytes(path, max_bytes)
            except InvalidReport as exc:
                raise InvalidReport(f"{path}: {exc}") from exc
        try:
            if reader.identify(data):
                return reader, data
        except InvalidReport as exc:
            raise InvalidReport(f"{path}: {exc}") from exc
    for signature, what, why in SIGNATURES:
        if head.startswith(signature) and not (signature in _WEAK and _is_text(head)):
            if suffix in UNSUPPORTED:  # named for what it is
                raise InvalidReport(f"{path}: {UNSUPPORTED[suffix]}")
            named = f", although it is named {suffix}" if suffix else ""
            raise InvalidReport(f"{path}: the content is {what}{named}: {why}")
    for reader in readers:
        if suffix in reader.extensions:
            return reader, data
    if suffix in UNSUPPORTED:
        raise InvalidReport(f"{path}: {UNSUPPORTED[suffix]}")
    for reader in readers:
        if reader.sniff(head):
            return reader, data
    kind = f"extension {suffix!r}" if suffix else "no extension"
    raise InvalidReport(f"{path}: unknown report type ({kind}, binary content)")


def decode_text(data: bytes) -> str:
    """Bytes -> text: UTF-8, or UTF-8/UTF-16 with a BOM; newlines become ``\\n``.

    Raises ``InvalidReport`` for NUL bytes, undecodable bytes and text that is
    mostly control characters: binary content is not a report.
    """
    end = len(data)  # UTF-8 without a BOM: a last "\n", "\r\n" or "\r" is left out here
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            break
    else:
        if b"\x00" in data:
            raise InvalidReport("binary content (NUL bytes), not a text report")
        codec, label = "utf-8", "UTF-8"
        end -= 2 if data.endswith(b"\r\n") else 1 if data.endswith((b"\n", b"\r")) else 0
    try:
        # decoded without the last line break, and not dropped from the text afterwards:
        # ``removesuffix`` would copy the whole text (twice its size in memory for Arabic)
        text = str(memoryview(data)[:end], codec)
    except UnicodeDecodeError as exc:
        raise InvalidReport(
            f"not valid {label} text (bad byte at offset {exc.start}); save the report as UTF-8"
        ) from exc
    return checked_text(text, ended=end < len(data))


def checked_text(text: str, *, ended: bool = False) -> str:
    """Decoded ``text`` with its newlines normalized (``\\n``); ``InvalidReport`` for NUL
    characters or more control characters than text has (binary content). ``ended``: its
    last line break was left out before decoding (else it is dropped here)."""
    refuse_binary(text)
    return _normalize_newlines(text, ended=ended)


def refuse_binary(text: str) -> None:
    """``InvalidReport`` for NUL characters or more control characters than text has."""
    if "\x00" in text:
        raise InvalidReport("binary content (NUL characters), not a text report")
    controls = sum(1 for _ in _CONTROL.finditer(text))
    if controls > max(8, len(text) // 100):
        raise InvalidReport(f"binary content ({controls} control characters), not a text report")


def _normalize_newlines(text: str, *, ended: bool = False) -> str:
    """``"\\n".join(text.splitlines())`` without a list of every line (a report may have
    millions): each line boundary ``str.splitlines`` knows becomes ``"\\n"``, and a
    boundary at the very end is dropped (``ended``: it was, before decoding)."""
    if _LINE_BREAK.search(text) is not None:
        text = _LINE_BREAK.sub("\n", text)
    return text if ended else text.removesuffix("\n")


def looks_like_text(head: bytes) -> bool:
    """Could these first bytes be the start of a text report?"""
    if any(head.startswith(signature) for signature, _, _ in SIGNATURES
           if signature not in _WEAK):
        return False
    return _is_text(head)


def _is_text(head: bytes) -> bool:
    if any(head.startswith(bom) for bom, _, _ in _BOMS):
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a character cut at the end of the head
    return True


def head_text(head: bytes) -> str:
    """The first bytes as text, leniently (for sniffing only)."""
    for bom, codec, _ in _BOMS:
        if head.startswith(bom):
            return head.decode(codec, errors="ignore")
    return head.decode("utf-8", errors="ignore")
