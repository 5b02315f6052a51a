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
  page's layout is held whole, about 500 bytes and 20 µs a character);
- bounded memory and time whatever the PDF: all of the reading (PDFium's too) runs
  in a child process (``_pdf_child``) limited to ``MEMORY_LIMIT`` bytes of address
  space and ``TIME_LIMIT`` seconds of wall time, killed at the deadline: a PDF over
  either, or one that crashes PDFium, is ``InvalidReport`` ("needs more than 1024
  MiB to read (limit 1024 MiB)", "took longer than 300 s to read", "the PDF reader
  crashed (signal 11, SIGSEGV)"), and nothing of it is returned. This process never
  imports PDFium. The report is opened here (``O_NONBLOCK``, a regular file, checked
  to begin ``%PDF-`` and end ``%%EOF``) and that descriptor is what the child reads.

``MEMORY_LIMIT`` is measured (docs/reports.md "The reading child"): the child's peak address
space was 51 MB for a 300-page Chromium report with 2,000 links, 110 MB for a 200 MB
PDF of large images and 91 MB for a page of 95,000 characters (the child alone takes
44 MB); 1 GiB leaves ten times the largest, and refuses the 5,000,000-operator PDF.
PDFium is not thread-safe: each read has its own process, so none is shared.
"""


from __future__ import annotations

import tempfile
from pathlib import Path
from typing import BinaryIO

from preserver.errors import InvalidReport
from preserver.ingest.readers._base import Extracted, Reader, open_regular
from preserver.ingest.readers._pdf_limits import Limits

MAX_BYTES = 512 * 1024 * 1024
MAX_PAGES = 5_000
MAX_LINKS = 20_000  # link annotations in one document
MAX_CHARS = 20_000_000  # characters in one document
MAX_PAGE_CHARS = 100_000  # characters on one page (a dense A4 page holds about 10,000)
MAX_URI_BYTES = 16 * 1024
MEMORY_LIMIT = 1024 * 1024 * 1024  # bytes of address space for the reading child
TIME_LIMIT = 300.0  # seconds of wall time for the reading child
_SIGNATURE = b"%PDF-"
_TAIL = 1024  # %%EOF must be in the last kilobyte (ISO 32000-1, 7.5.5)


def _sniff(head: bytes) -> bool:
    return head.startswith(_SIGNATURE)


def limits() -> Limits:
    """The limits in force: this module's constants as they are now."""
    return Limits(memory=MEMORY_LIMIT, seconds=TIME_LIMIT, pages=MAX_PAGES, links=MAX_LINKS,
                  chars=MAX_CHARS, page_chars=MAX_PAGE_CHARS, uri_bytes=MAX_URI_BYTES)


def extract_pdf(source: Path | bytes, *, bounds: Limits | None = None) -> Extracted:
    """The text of the PDF at ``source`` (a path, or the bytes of one: written to a
    temporary file first) and the line each page begins on, read in a child process
    held to ``bounds`` (default ``limits()``)."""
    # Imported here, not above: ``python -m …_pdf_child`` imports this package first,
    # and runpy must not find the module it is about to run already imported.
    from preserver.ingest.readers import _pdf_child

    bounds = bounds or limits()
    if isinstance(source, bytes):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as copy:
            copy.write(source)
            copy.flush()
            return extract_pdf(Path(copy.name), bounds=bounds)
    try:
        stream = open_regular(source)
    except OSError as exc:
        raise InvalidReport(f"cannot read the PDF: {exc.strerror or exc}") from exc
    with stream:
        _check_ends(stream)
        return _pdf_child.run(stream.fileno(), source, bounds)


def _check_ends(stream: BinaryIO) -> None:
    try:
        head = stream.read(len(_SIGNATURE))
        stream.seek(max(0, stream.seek(0, 2) - _TAIL))
        tail = stream.read(_TAIL)
    except OSError as exc:
        raise InvalidReport(f"cannot read the PDF: {exc.strerror or exc}") from exc
    if head != _SIGNATURE:
        raise InvalidReport("named .pdf, but not a PDF document (no %PDF- header)")
    if b"%%EOF" not in tail:
        raise InvalidReport("truncated or damaged PDF (it does not end with %%EOF)")


READER = Reader(
    media_type="application/pdf",
    extensions=frozenset({".pdf"}),
    sniff=_sniff,
    extract=extract_pdf,
    extract_path=extract_pdf,
    max_bytes=MAX_BYTES,
    signature=_SIGNATURE,
)
