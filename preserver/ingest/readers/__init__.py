"""Read report files into plain text (docs/design.md "Data flow": ingest).

``read_report(path)`` checks the file (exists, regular, not empty, not binary,
at most ``max_bytes``; a PDF at most ``pdf.MAX_BYTES``), picks a reader by the
content's signature (``%PDF-``; a ZIP that is a Word or Excel file: ``readers/_zip.py``),
else by extension (``.txt .text .md .markdown .html .htm .pdf .docx .xlsx .csv .tsv``)
or, when the extension is missing or unknown, by sniffing the content, and returns a
frozen ``ReportText``. Any file that is not a report we
can read raises ``InvalidReport`` with a one-line message naming the file and
the cause ("encrypted PDF: …", "empty file", …).

A new format is one module exposing ``READER = Reader(...)`` plus one entry in
``_READERS`` below (see ``_base.Reader``); order is sniffing priority, and the
plain-text reader, which accepts any text, stays last.

>>> from pathlib import Path
>>> import tempfile
>>> report = Path(tempfile.mkdtemp()) / "douma.txt"
>>> _ = report.write_text("5- name\\nhttps://youtu.be/u7qI99N8OM8\\n", encoding="utf-8")
>>> read_report(report).media_type
'text/plain'
"""

from __future__ import annotations

from pathlib import Path

from preserver.ingest.readers import csv, docx, html, markdown, pdf, text, xlsx
from preserver.ingest.readers._base import Extracted, Reader, ReportText, read

__all__ = ["Extracted", "Reader", "ReportText", "read_report"]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_READERS: tuple[Reader, ...] = (
    pdf.READER, docx.READER, xlsx.READER, html.READER, markdown.READER, csv.READER, text.READER
)


def read_report(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ReportText:
    """The text of the report at ``path``; ``InvalidReport`` if it is not one we can read."""
    return read(Path(path), _READERS, max_bytes=max_bytes)
