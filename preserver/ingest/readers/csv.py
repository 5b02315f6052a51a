"""Lists of links kept as CSV (``.csv``, ``.tsv``): one citation per row, on its own line.

Promised:

- decoding: a BOM (UTF-8, UTF-16), else UTF-8, else the code page ``charset-normalizer``
  finds (an Excel CSV saved in an Arabic office is windows-1256); NUL bytes outside
  UTF-16 are binary content, refused (``_lines``, ``_encoding``); the encoding is
  recorded in ``ReportText.encoding``;
- the delimiter is the one a first line ``sep=;`` names (Excel writes and reads it; that
  line is not the header), else sniffed among ``,`` ``;`` and tab: the one that splits
  the first rows into the same number (more than one) of fields most often;
- the text has one line per line of the file, so a citation's ``line`` is the line
  the row starts on in the file (a row with a quoted line break spans several; the
  lines after its first stay empty); each row is written as ``_table`` says (label
  cell first, ``=HYPERLINK`` cells as ``text <url>``, the URL column by header name or
  else by content) and read as a table by the link finder (``ReportText.tables``);
- ragged rows are read as they are; a field longer than ``csv.field_size_limit()``
  (128 Ki characters, left as it is: it is global to the process) or an unterminated
  quote is refused with its line number.

The rows are streamed from the file, decoded a line at a time: what is held is the
file and the text written (joined in chunks), never its whole decoded text nor a list
of its rows.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from itertools import islice

from preserver.errors import InvalidReport
from preserver.ingest.readers._base import Extracted, Reader
from preserver.ingest.readers._labels import Encoding
from preserver.ingest.readers._lines import encoding_of, text_lines
from preserver.ingest.readers._table import Lines, cell_text, write_rows

_DELIMITERS = (",", "\t", ";")  # preferred in this order on a tie
_SAMPLE_ROWS = 50
_SEP = re.compile(r"sep=(.)")  # Excel's first line naming the delimiter


def _rows(data: bytes, encoding: Encoding, delimiter: str
          ) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, lines spanned, cells) of each row; ``InvalidReport`` naming the line."""
    reader = csv.reader(text_lines(data, encoding), delimiter=delimiter, strict=False)
    last = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidReport(f"line {last + 1}: cannot read the CSV: {exc}") from exc
        yield last + 1, reader.line_num - last, cells
        last = reader.line_num


def _delimiter(data: bytes, encoding: Encoding) -> str:
    best, best_score = ",", (0, 0)
    for delimiter in _DELIMITERS:
        try:
            widths = Counter(len(cells) for _, _, cells in islice(_rows(data, encoding, delimiter),
                                                                  _SAMPLE_ROWS) if cells)
        except InvalidReport:
            continue
        if not widths:
            continue
        width, rows = widths.most_common(1)[0]
        score = (rows, width) if width > 1 else (0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def csv_to_text(data: bytes, encoding: Encoding) -> str:
    """A CSV file -> the text its citations point into (see the module docstring)."""
    sep = _SEP.fullmatch(next(text_lines(data, encoding), "").rstrip("\r\n"))
    delimiter = sep.group(1) if sep else _delimiter(data, encoding)
    lines = Lines()
    write_rows(((line, [cell_text(cell) for cell in cells])
                for line, _, cells in _rows(data, encoding, delimiter)
                if not (sep and line == 1)), lines)
    return lines.text()


def _extract(data: bytes) -> Extracted:
    encoding = encoding_of(data)
    return Extracted(text=csv_to_text(data, encoding), tables=(1,), encoding=encoding.name)


READER = Reader(
    media_type="text/csv",
    extensions=frozenset({".csv", ".tsv"}),
    sniff=lambda head: False,  # a text without a .csv name is read as text
    extract=_extract,
)
