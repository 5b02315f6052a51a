"""PDF reports (``.pdf``, or any file that begins with ``%PDF-``), read with PDFium.

PDFium (through ``pypdfium2``, Apache-2.0/BSD) was chosen by measurement against
pdfminer.six, pypdf and PyMuPDF (docs/reports.md "PDF reports"): it is the fastest
and the only one that opens a file from its path without holding its bytes, and it
gives each character's box and each link annotation's rectangle, from which
``_pdf_layout`` builds the lines itself (no library's own line order was right for
Arabic from both Chromium and arabic-reshaper + python-bidi producers).

Promised (``extract_path`` of ``READER``, called by ``_base.read`` with the path):

- the text of every page in order, one line per visual line, blocks separated by
  a blank line, Arabic in logical order and NFKC (``_pdf_layout``), and the line
  each page begins on (``Extracted.page_lines``);
- every http(s) URI link annotation written after the words it covers
  (``words <url>``), so a link behind "شاهد الفيديو" is cited; ``javascript:``,
  ``file:``, ``mailto:`` and URIs longer than ``MAX_URI_BYTES`` are left out;
- files up to ``MAX_BYTES`` (far above the in-memory readers' limit): PDFium reads
  the file on demand, so memory follows the largest page, not the file (embedded
  images are never decoded);
- ``InvalidReport`` with one line for every PDF it cannot read, and no PDFium
  error escapes: a PDF that needs a password ("encrypted PDF: …"; one encrypted
  with an empty user password, i.e. only restricted in what a viewer may do, is
  read, as every viewer opens it), a damaged or truncated one (it must end with
  ``%%EOF``, so a cut file is never partly read), one with no text layer ("no
  text layer (scanned images?)"), one over ``MAX_PAGES`` pages, ``MAX_LINKS`` link
  annotations or ``MAX_CHARS`` characters, or ``MAX_PAGE_CHARS`` on one page (a
  page's layout is held whole, about 500 bytes and 20 µs a character), and one that
  takes longer than ``TIME_LIMIT`` seconds (checked between pages; a single page
  that makes PDFium itself spin is not bounded by it).

PDFium is not thread-safe: one lock serialises its use in this process.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import threading
import time
from pathlib import Path
from typing import Any

from preserver.errors import InvalidReport
from preserver.ingest.readers._base import Extracted, Reader
from preserver.ingest.readers._pdf_layout import Glyph, Link, page_lines

MAX_BYTES = 512 * 1024 * 1024
MAX_PAGES = 5_000
MAX_LINKS = 20_000  # link annotations in one document
MAX_CHARS = 20_000_000  # characters in one document
MAX_PAGE_CHARS = 100_000  # characters on one page (a dense A4 page holds about 10,000)
MAX_URI_BYTES = 16 * 1024
TIME_LIMIT = 300.0  # seconds
_SIGNATURE = b"%PDF-"
_TAIL = 1024  # %%EOF must be in the last kilobyte (ISO 32000-1, 7.5.5)
_LOCK = threading.Lock()
_REOPEN_GROWTH = 64 * 1024 * 1024  # bytes
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_calls = 0


def _sniff(head: bytes) -> bool:
    return head.startswith(_SIGNATURE)


def extract_pdf(source: Path | bytes) -> Extracted:
    """The text of the PDF at ``source`` (a path, or the bytes of one) and the line each
    page begins on."""
    _check_ends(source)
    import pypdfium2 as pdfium

    with _LOCK:
        try:
            return _read(source)
        except pdfium.PdfiumError as exc:
            raise InvalidReport(f"damaged PDF: {exc}") from exc


def _open(source: Path | bytes) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        raise InvalidReport(_open_error(exc)) from exc
    except OSError as exc:
        raise InvalidReport(f"cannot read the PDF: {exc.strerror or exc}") from exc


def _check_ends(source: Path | bytes) -> None:
    if isinstance(source, bytes):
        head, tail = source[:len(_SIGNATURE)], source[-_TAIL:]
    else:
        try:
            with source.open("rb") as stream:
                head = stream.read(len(_SIGNATURE))
                stream.seek(max(0, stream.seek(0, 2) - _TAIL))
                tail = stream.read(_TAIL)
        except OSError as exc:
            raise InvalidReport(f"cannot read the PDF: {exc.strerror or exc}") from exc
    if head != _SIGNATURE:
        raise InvalidReport("named .pdf, but not a PDF document (no %PDF- header)")
    if b"%%EOF" not in tail:
        raise InvalidReport("truncated or damaged PDF (it does not end with %%EOF)")


def _open_error(exc: Any) -> str:
    from pypdfium2 import raw

    code = getattr(exc, "err_code", None)
    if code == raw.FPDF_ERR_PASSWORD:
        return "encrypted PDF: a password is needed to open it"
    if code == raw.FPDF_ERR_SECURITY:
        return "encrypted PDF: unsupported security handler"
    return "not a readable PDF (damaged, or not a PDF document)"


def _read(source: Path | bytes) -> Extracted:
    """Every page in order. PDFium keeps each object it has parsed (a page's images
    too) until the document is closed, so the document is closed and opened again
    (about 2 ms) once this process has grown by ``_REOPEN_GROWTH`` since it was opened:
    memory follows the largest pages, not the file."""
    document = _open(source)
    try:
        pages = len(document)
        if pages > MAX_PAGES:
            raise InvalidReport(f"{pages} pages, over the limit of {MAX_PAGES}")
        deadline = time.monotonic() + TIME_LIMIT
        lines: list[str] = []
        starts: list[int] = []
        budget = _Budget()
        opened = _resident()
        for number in range(pages):
            if time.monotonic() > deadline:
                raise InvalidReport(f"reading took longer than {TIME_LIMIT:g} s "
                                    f"(stopped at page {number + 1} of {pages})")
            if _resident() - opened > _REOPEN_GROWTH:
                document.close()
                document = _open(source)
                opened = _resident()
            page = document[number]
            try:
                glyphs = _glyphs(page, budget, number + 1)
                links = _links(document, page, budget)
            finally:
                page.close()
            if lines and lines[-1]:
                lines.append("")  # pages are blocks
            starts.append(len(lines) + 1)
            try:
                lines.extend(page_lines(glyphs, links))
            except InvalidReport as exc:
                raise InvalidReport(f"page {number + 1}: {exc}") from exc
    finally:
        document.close()
    if budget.chars == 0:
        raise InvalidReport("no text layer (scanned images?)")
    return Extracted(text="\n".join(lines).strip("\n"), page_lines=tuple(starts))


def _resident() -> int:
    """This process's resident memory in bytes (Linux); where it cannot be read, a count
    that grows by ``_REOPEN_GROWTH`` every 16 calls, so the document is reopened every
    16 pages."""
    global _calls
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        _calls += 1
        return _calls * _REOPEN_GROWTH // 16


class _Budget:
    def __init__(self) -> None:
        self.chars = 0
        self.links = 0


def _glyphs(page: Any, budget: _Budget, number: int) -> list[Glyph]:
    from pypdfium2 import raw

    textpage = page.get_textpage()
    try:
        count = raw.FPDFText_CountChars(textpage)
        budget.chars += max(0, count)
        if count > MAX_PAGE_CHARS:
            raise InvalidReport(f"over {MAX_PAGE_CHARS} characters on page {number}")
        if budget.chars > MAX_CHARS:
            raise InvalidReport(f"over {MAX_CHARS} characters (at page {number})")
        glyphs: list[Glyph] = []
        box = raw.FS_RECTF()
        x, y = ctypes.c_double(), ctypes.c_double()
        pending = 0  # a high surrogate waiting for its low half
        for index in range(count):
            code = raw.FPDFText_GetUnicode(textpage, index)
            if 0xD800 <= code < 0xDC00:
                pending = code
                continue
            if 0xDC00 <= code < 0xE000:
                if not pending:
                    continue
                code, pending = 0x10000 + ((pending - 0xD800) << 10) + (code - 0xDC00), 0
            if code < 0x20 or code in (0xFFFE, 0xFFFF) or code > 0x10FFFF or (
                    code == 0x20 and raw.FPDFText_IsGenerated(textpage, index)):
                continue  # line breaks and the spaces PDFium guessed: layout decides
            if not (raw.FPDFText_GetLooseCharBox(textpage, index, box)
                    and raw.FPDFText_GetCharOrigin(textpage, index, x, y)):
                continue
            glyphs.append(Glyph(text=chr(code), left=box.left, bottom=box.bottom,
                                right=box.right, top=box.top, origin=x.value,
                                baseline=y.value))
        return glyphs
    finally:
        textpage.close()


def _links(document: Any, page: Any, budget: _Budget) -> list[Link]:
    """The page's http(s) URI link annotations."""
    from pypdfium2 import raw

    found: list[Link] = []
    position = ctypes.c_int(0)
    link = raw.FPDF_LINK()
    rect = raw.FS_RECTF()
    while raw.FPDFLink_Enumerate(page, ctypes.byref(position), ctypes.byref(link)):
        budget.links += 1
        if budget.links > MAX_LINKS:
            raise InvalidReport(f"over {MAX_LINKS} link annotations")
        action = raw.FPDFLink_GetAction(link)
        if not action or raw.FPDFAction_GetType(action) != raw.PDFACTION_URI:
            continue
        size = raw.FPDFAction_GetURIPath(document, action, None, 0)
        if not 0 < size <= MAX_URI_BYTES:
            continue
        buffer = ctypes.create_string_buffer(size)
        raw.FPDFAction_GetURIPath(document, action, buffer, size)
        url = _http_url(buffer.raw[:size - 1])  # all of it: .value stops at a NUL
        if url is None or not raw.FPDFLink_GetAnnotRect(link, ctypes.byref(rect)):
            continue
        found.append(Link(url=url, left=min(rect.left, rect.right),
                          bottom=min(rect.bottom, rect.top),
                          right=max(rect.left, rect.right), top=max(rect.bottom, rect.top)))
    return found


def _http_url(raw_uri: bytes) -> str | None:
    """An absolute http(s) URL with no space, NUL or other control character, or None.

    The URI's bytes are ASCII by the standard (ISO 32000-1, 12.6.4.7), but producers
    also write UTF-8 (an IRI: ``…/wiki/دوما``) or a UTF-16BE text string with its
    BOM: bytes over 0x7F are percent-encoded, as a browser sends them."""
    if raw_uri.startswith(codecs.BOM_UTF16_BE):
        try:
            raw_uri = raw_uri[2:].decode("utf-16-be").encode("utf-8")
        except UnicodeDecodeError:
            return None
    raw_uri = raw_uri.removeprefix(codecs.BOM_UTF8).strip(b" \t\r\n\f")
    if not raw_uri.lower().startswith((b"http://", b"https://")):
        return None
    if any(byte <= 0x20 or byte == 0x7F or byte in b"<>" for byte in raw_uri):
        return None
    return "".join(chr(byte) if byte < 0x7F else f"%{byte:02X}" for byte in raw_uri)


READER = Reader(
    media_type="application/pdf",
    extensions=frozenset({".pdf"}),
    sniff=_sniff,
    extract=extract_pdf,
    extract_path=extract_pdf,
    max_bytes=MAX_BYTES,
    signature=_SIGNATURE,
)
