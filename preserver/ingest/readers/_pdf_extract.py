"""The PDF reader's work in its child process (``_pdf_child``): PDFium (``pypdfium2``)
opens the file, and every page's characters and link annotations become lines
(``_pdf_layout``). Only the child imports this module, so PDFium's memory and time
are bounded by the child's limits (``pdf``), never spent in the parent.

Promised by ``extract(path, limits)``: the ``Extracted`` text and page starts, or
``InvalidReport`` with one line for a PDF that cannot be read or that is over one of
``limits`` (pages, link annotations, characters in the document or on one page); no
PDFium error escapes. The document is closed and opened again once this process has
grown by ``_REOPEN_GROWTH`` since it was opened: PDFium keeps each object it parsed
(a page's images too) until the document is closed, so memory follows the largest
pages, not the file.
"""

from __future__ import annotations

import codecs
import ctypes
import os
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from pypdfium2 import raw

from preserver.errors import InvalidReport
from preserver.ingest.readers._base import Extracted
from preserver.ingest.readers._pdf_layout import Glyph, Link, page_lines
from preserver.ingest.readers._pdf_limits import Limits

_REOPEN_GROWTH = 64 * 1024 * 1024  # bytes
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_calls = 0


def extract(source: Path, limits: Limits) -> Extracted:
    """The text of the PDF at ``source`` and the line each page begins on."""
    try:
        return _read(source, limits)
    except pdfium.PdfiumError as exc:
        raise InvalidReport(f"damaged PDF: {exc}") from exc


def _open(source: Path) -> Any:
    try:
        return pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        raise InvalidReport(_open_error(exc)) from exc
    except OSError as exc:
        raise InvalidReport(f"cannot read the PDF: {exc.strerror or exc}") from exc


def _open_error(exc: Any) -> str:
    code = getattr(exc, "err_code", None)
    if code == raw.FPDF_ERR_PASSWORD:
        return "encrypted PDF: a password is needed to open it"
    if code == raw.FPDF_ERR_SECURITY:
        return "encrypted PDF: unsupported security handler"
    return "not a readable PDF (damaged, or not a PDF document)"


def _read(source: Path, limits: Limits) -> Extracted:
    """Every page in order; the document is reopened (about 2 ms) as it grows."""
    document = _open(source)
    try:
        pages = len(document)
        if pages > limits.pages:
            raise InvalidReport(f"{pages} pages, over the limit of {limits.pages}")
        lines: list[str] = []
        starts: list[int] = []
        budget = _Budget()
        opened = _resident()
        for number in range(pages):
            if _resident() - opened > _REOPEN_GROWTH:
                document.close()
                document = _open(source)
                opened = _resident()
            page = document[number]
            try:
                glyphs = _glyphs(page, budget, number + 1, limits)
                links = _links(document, page, budget, limits)
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


def _glyphs(page: Any, budget: _Budget, number: int, limits: Limits) -> list[Glyph]:
    textpage = page.get_textpage()
    try:
        count = raw.FPDFText_CountChars(textpage)
        budget.chars += max(0, count)
        if count > limits.page_chars:
            raise InvalidReport(f"over {limits.page_chars} characters on page {number}")
        if budget.chars > limits.chars:
            raise InvalidReport(f"over {limits.chars} characters (at page {number})")
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


def _links(document: Any, page: Any, budget: _Budget, limits: Limits) -> list[Link]:
    """The page's http(s) URI link annotations."""
    found: list[Link] = []
    position = ctypes.c_int(0)
    link = raw.FPDF_LINK()
    rect = raw.FS_RECTF()
    while raw.FPDFLink_Enumerate(page, ctypes.byref(position), ctypes.byref(link)):
        budget.links += 1
        if budget.links > limits.links:
            raise InvalidReport(f"over {limits.links} link annotations")
        action = raw.FPDFLink_GetAction(link)
        if not action or raw.FPDFAction_GetType(action) != raw.PDFACTION_URI:
            continue
        size = raw.FPDFAction_GetURIPath(document, action, None, 0)
        if not 0 < size <= limits.uri_bytes:
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
