"""PDF reports for the tests and benches, made by real producers.

- ``print_pages(htmls)``: Chromium's print (``workers.printing.Printer``: one browser
  for all), as a report's authors print a web page; Arabic is stored as glyph runs in
  visual order, links as URI annotations.
- ``reshaped_pdf(lines)``: fpdf2 with arabic-reshaper + python-bidi, as Arabic PDFs
  are made in Python (reportlab, fpdf2): visual-order presentation forms.
- ``raw_pdf(pages)``: a PDF written object by object, for what no producer makes on
  request: 100,000 annotations, hostile URIs, a page of nothing but an image, a
  large embedded image. Written to a stream, so a 200 MB file is never in memory.
"""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from workers.printing import Printer

CHROMIUM = shutil.which("chromium")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
STYLE = "<style>body{font-family:'DejaVu Sans';font-size:14px}</style>"


def html_page(body: str, *, rtl: bool = True) -> str:
    direction = ' lang="ar" dir="rtl"' if rtl else ""
    return (f'<!doctype html><html{direction}><head><meta charset="utf-8">{STYLE}</head>'
            f"<body>{body}</body></html>")


def print_pages(htmls: Sequence[str], *, timeout: float = 120) -> list[bytes]:
    """Each page printed to PDF by Debian's Chromium, one browser for all."""
    assert CHROMIUM is not None

    async def go() -> list[bytes]:
        async with Printer(executable=CHROMIUM, timeout=timeout) as printer:
            return [await printer.print(html) for html in htmls]

    return asyncio.run(go())


@dataclass(frozen=True, kw_only=True)
class Line:
    text: str  # logical order, as written
    link: str | None = None  # a URI annotation over the line's text
    new_page: bool = False


def reshaped_pdf(lines: Sequence[Line]) -> bytes:
    """fpdf2 + arabic-reshaper + python-bidi: each line shaped into presentation forms and
    reordered for display (visual order), right aligned, one cell per line."""
    import arabic_reshaper
    from bidi.algorithm import get_display
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("dejavu", fname=str(DEJAVU))
    pdf.set_font("dejavu", size=13)
    for line in lines:
        if line.new_page:
            pdf.add_page()
        pdf.cell(0, 9, get_display(arabic_reshaper.reshape(line.text)), align="R",
                 new_x="LMARGIN", new_y="NEXT", link=line.link or "")
    return bytes(pdf.output())


@dataclass(frozen=True, kw_only=True)
class RawPage:
    text: tuple[str, ...] = ()  # ASCII lines, Helvetica
    uris: tuple[bytes, ...] = ()  # a URI annotation over the first line for each
    image_bytes: int = 0  # an embedded (never decoded) RGB image of about this size


def raw_pdf(out: BinaryIO, pages: Sequence[RawPage], *, seed: int = 1,
            font: bytes = b"") -> None:
    """Write a PDF with these pages to ``out``; images are pseudo-random bytes; ``font``
    is added to the Helvetica font's dictionary (an ``/Encoding``)."""
    import random

    rng = random.Random(seed)
    offsets: list[int] = []
    position = 0

    def put(number: int, body: bytes, stream: bytes | None = None, *,
            chunks: int = 0) -> None:
        nonlocal position
        assert number == len(offsets) + 1
        offsets.append(position)
        head = f"{number} 0 obj\n".encode() + body
        if stream is None and not chunks:
            data = head + b"\nendobj\n"
            out.write(data)
            position += len(data)
            return
        length = len(stream) if stream is not None else chunks
        head = f"{number} 0 obj\n".encode() + body.replace(b"LENGTH", str(length).encode())
        head += b"\nstream\n"
        out.write(head)
        position += len(head)
        if stream is not None:
            out.write(stream)
        else:
            left = chunks
            while left:
                piece = rng.randbytes(min(left, 1 << 20))
                out.write(piece)
                left -= len(piece)
        tail = b"\nendstream\nendobj\n"
        out.write(tail)
        position += length + len(tail)

    header = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    out.write(header)
    position = len(header)
    count = len(pages)
    # 1 catalog, 2 pages, 3 font; per page: page, content, [image]
    numbers: list[tuple[int, int, int | None]] = []
    next_number = 4
    for page in pages:
        image = next_number + 2 if page.image_bytes else None
        numbers.append((next_number, next_number + 1, image))
        next_number += 3 if image else 2
    put(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(f"{p} 0 R".encode() for p, _, _ in numbers)
    put(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (count, kids))
    put(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica " + font + b" >>")
    for page, (page_number, content_number, image_number) in zip(pages, numbers, strict=True):
        annots = b" ".join(
            b"<< /Type /Annot /Subtype /Link /Border [0 0 0] /Rect [72 700 300 716] "
            b"/A << /S /URI /URI (" + _escape(uri) + b") >> >>" for uri in page.uris)
        resources = b"/Font << /F1 3 0 R >>"
        if image_number:
            resources += f" /XObject << /Im1 {image_number} 0 R >>".encode()
        put(page_number, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << " + resources + b" >> /Contents "
            + f"{content_number} 0 R".encode() + b" /Annots [" + annots + b"] >>")
        ops = []
        for index, line in enumerate(page.text):
            ops.append(f"BT /F1 12 Tf 72 {704 - 16 * index} Td ({line}) Tj ET")
        if image_number:
            ops.append("q 200 0 0 200 72 300 cm /Im1 Do Q")
        content = "\n".join(ops).encode()
        put(content_number, b"<< /Length LENGTH >>", content)
        if image_number:
            side = max(1, int((page.image_bytes / 3) ** 0.5))
            put(image_number, f"<< /Type /XObject /Subtype /Image /Width {side} /Height {side} "
                f"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Length LENGTH >>".encode(),
                chunks=side * side * 3)
    xref = position
    rows = [b"xref\n0 %d\n" % (len(offsets) + 1), b"0000000000 65535 f \n"]
    rows += [b"%010d 00000 n \n" % offset for offset in offsets]
    rows.append(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                % (len(offsets) + 1, xref))
    out.write(b"".join(rows))


def raw_pdf_bytes(pages: Sequence[RawPage], *, font: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    raw_pdf(buffer, pages, font=font)
    return buffer.getvalue()


def _escape(data: bytes) -> bytes:
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
