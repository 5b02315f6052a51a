"""Lists of links kept in Excel workbooks (``.xlsx``, or any file whose content is one).

Reads the SpreadsheetML parts (ECMA-376 Part 1, 18) of a ZIP opened within the bounds
of ``_zip``. Promised:

- every worksheet, in the workbook's order (hidden ones too: they are evidence), each
  row on one line written as ``_table`` says (label cell first; the URL column by
  header name, or else by content) and read as a table by the link finder
  (``ReportText.tables``: a label above a sheet does not label its rows);
- a cell's link is read three ways: its text, its hyperlink (the sheet's
  ``<hyperlinks>`` and their External relationships in the sheet's own ``.rels``) and a
  ``=HYPERLINK("url", …)`` formula (the literal URL; the cell's cached value is the
  words shown); a linked cell is written ``text <url>`` unless its text shows the URL;
- line numbers: the first sheet's row *n* is line *n*; each next sheet follows the one
  before, its row *n* at line ``start + n - 1``, where ``start`` (one past the
  previous sheet's last row) is in ``Extracted.page_lines``: a sheet is a page, so
  ``ReportText.page_of(line)`` is the sheet's position in the workbook;
- shared strings are held (the cells refer to them), joined in chunks with each one's
  end, not as a string object each (15 million of them took 875 MB); each sheet is streamed, a row at
  a time; a sheet with external hyperlinks is read twice, first for them (they follow
  the rows in the file). Rows must come in ascending order, as Excel writes them; a
  row number over 1,048,576 or a column past XFD (Excel's own limits) is refused.

Why our own streaming rather than openpyxl: openpyxl's read-only mode does not read
hyperlinks, and it opens the ZIP itself, past ``_zip``'s bounds; a parse that clears
each row holds one row of the sheet at once (docs/design.md "Office reports").
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from xml.etree.ElementTree import Element

from preserver.errors import InvalidReport
from preserver.ingest.readers._anchors import hyperlink_url, linked, web_url
from preserver.ingest.readers._base import Extracted, Reader
from preserver.ingest.readers._table import Lines, cell_text, write_rows
from preserver.ingest.readers._zip import ZIP_MAGIC, Package, attr, local, office_kind

MAX_ROW = 1 << 20  # Excel's last row
MAX_COLUMN = 16_384  # Excel's last column, XFD
MAX_HELD = 200_000  # elements of one row (16,384 rich cells) or other part of a sheet, held
MAX_HYPERLINKS = 200_000  # cell hyperlinks in one sheet, held while it is read
# cells of a workbook's rows, the empty ones between counted: a row with one cell at XFD is
# 16,384 (each is looked at); a sheet of a million rows of 30 columns is 30 Mi
MAX_CELLS = 32 << 20
_CHUNK = 4096  # shared strings joined into one
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")



class _Workbook:
    def __init__(self, package: Package) -> None:
        self.package = package
        self.main = package.main or "xl/workbook.xml"
        self.rels = package.relationships(self.main)
        self.shared = self._shared_strings()

    def _shared_strings(self) -> _Strings:
        part = next((t for kind, t, ext in self.rels.values()
                     if kind == "sharedStrings" and not ext and self.package.has(t)), None)
        strings = _Strings()
        if part is None:
            return strings
        stack: list[Element] = []
        for event, element in self.package.iterparse(part):
            if event == "start":
                stack.append(element)
                continue
            stack.pop()
            if len(stack) == 1 and local(element.tag) == "si":
                strings.append(_text(element))
                stack[0].clear()  # the string is held: drop its element
        strings.close()
        return strings

    def sheets(self) -> Iterator[tuple[str, str]]:
        """(name, part) of each worksheet, in the workbook's order."""
        for element in self.package.xml(self.main).iter():
            if local(element.tag) != "sheet":
                continue
            rel = self.rels.get(attr(element, "id") or "")
            if rel is not None and rel[0] == "worksheet" and not rel[2] \
                    and self.package.has(rel[1]):
                yield attr(element, "name") or rel[1], rel[1]

    def read(self) -> Extracted:
        self.cells = 0
        lines = Lines()
        starts: list[int] = []
        for _, part in self.sheets():
            starts.append(lines.count + 1)
            links = self._hyperlinks(part)
            write_rows(((number, [cell_text(text, url=links.get((number, column)))
                                  for column, text in enumerate(cells)])
                        for number, cells in self._rows(part)), lines)
            if lines.count < starts[-1]:
                lines.add("")  # an empty sheet still has its line, so pages stay apart
        return Extracted(text=lines.text(), page_lines=tuple(starts), tables=tuple(starts))

    def _hyperlinks(self, part: str) -> dict[tuple[int, int], str]:
        """(row, column) -> URL of the sheet's cell hyperlinks to http(s) URLs. They follow
        the rows in the file: a pass of its own, made only if the sheet's relationships
        hold an external hyperlink."""
        rels = self.package.relationships(part)
        links: dict[tuple[int, int], str] = {}
        if not any(kind == "hyperlink" and external for kind, _, external in rels.values()):
            return links
        for element in _sheet_elements(self.package, part):
            if local(element.tag) == "hyperlink":
                rel = rels.get(attr(element, "id") or "")
                url = web_url(rel[1]) if rel is not None and rel[2] else None
                ref = _ref(attr(element, "ref") or "")
                if url is not None and ref is not None:
                    if len(links) >= MAX_HYPERLINKS:
                        raise InvalidReport(f"{part}: more than {MAX_HYPERLINKS} hyperlinks")
                    links[ref] = url
        return links

    def _rows(self, part: str) -> Iterator[tuple[int, list[str]]]:
        """(row number, its cells by column) of each row, streamed."""
        number = 0
        for element in _sheet_elements(self.package, part):
            if local(element.tag) != "row":
                continue
            spans, last = attr(element, "r"), number
            number = _int(spans) if spans is not None else number + 1
            if not 0 < number <= MAX_ROW:
                raise InvalidReport(f"{part}: row {spans} is outside 1..{MAX_ROW}")
            if number <= last:  # its line is taken: it would be cited on another row's
                raise InvalidReport(f"{part}: row {number} after row {last} (rows ascend, "
                                    "as Excel writes them)")
            cells = _spread(self._cells(element))
            self.cells += len(cells)
            if self.cells > MAX_CELLS:
                raise InvalidReport(f"{part}: more than {MAX_CELLS} cells (the empty ones "
                                    "between counted)")
            yield number, cells

    def _cells(self, row: Element) -> Iterator[tuple[int, str]]:
        """(0-based column, text) of each cell of ``row`` that has one; a HYPERLINK
        formula's cell as ``text <url>``."""
        column = -1
        for cell in row:
            if local(cell.tag) != "c":
                continue
            ref = _ref(attr(cell, "r") or "")
            column = ref[1] if ref is not None else column + 1
            if column >= MAX_COLUMN:
                raise InvalidReport(f"cell {attr(cell, 'r')}: past the last column (XFD)")
            kind = attr(cell, "t") or "n"
            value = formula = None
            for child in cell:
                name = local(child.tag)
                if name == "v":
                    value = child.text or ""
                elif name == "is":
                    value = _text(child)
                elif name == "f" and child.text:
                    formula = hyperlink_url(child.text)
            if kind == "s" and value is not None:
                index = _int(value)
                if not 0 <= index < len(self.shared):
                    raise InvalidReport(f"cell {attr(cell, 'r')}: no shared string {value}")
                value = self.shared[index]
            elif kind == "b" and value is not None:
                value = "TRUE" if value == "1" else "FALSE"
            if value or formula:
                yield column, linked(value or "", formula) if formula else value or ""


class _Strings:
    """A workbook's shared strings by index: joined ``_CHUNK`` at a time into one string,
    with where each ends in its chunk (4 bytes a string, not a ~50-byte object)."""

    def __init__(self) -> None:
        self._chunks: list[str] = []
        self._ends = array("I")  # a chunk holds less than a part: 256 MiB
        self._open: list[str] = []
        self._at = 0

    def append(self, text: str) -> None:
        self._open.append(text)
        self._at += len(text)
        self._ends.append(self._at)
        if len(self._open) == _CHUNK:
            self.close()

    def close(self) -> None:
        """Join the strings appended since the last chunk into one."""
        if self._open:
            self._chunks.append("".join(self._open))
            self._open, self._at = [], 0

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        chunk, first = divmod(index, _CHUNK)
        start = self._ends[index - 1] if first else 0
        return self._chunks[chunk][start:self._ends[index]]


def _sheet_elements(package: Package, part: str) -> Iterator[Element]:
    """The elements of a sheet two levels below its root (a row of ``sheetData``, a
    ``hyperlink`` of ``hyperlinks``), each as it ends, then dropped with all before it;
    at most ``MAX_HELD`` elements held at once (one row of 3 million cells, a 12 MB
    file, held 1.6 GB; 3 million hyperlinks after the rows, 1.4 GB)."""
    stack: list[Element] = []
    held = 0
    for event, element in package.iterparse(part):
        if event == "start":
            stack.append(element)
            held += 1
            if held > MAX_HELD:
                raise InvalidReport(f"{part}: more than {MAX_HELD} elements in one row or "
                                    "element of the sheet")
            continue
        stack.pop()
        if len(stack) <= 2:
            if len(stack) == 2:
                yield element
            if stack:
                stack[-1].clear()  # handled: free it (and its parent's list)
            held = 0


def _spread(cells: Iterator[tuple[int, str]]) -> list[str]:
    """Cells by column, the columns between them empty."""
    row: list[str] = []
    for column, text in cells:
        row.extend([""] * (column + 1 - len(row)))
        row[column] = text
    return row


def _text(element: Element) -> str:
    """A string item's text: its ``t`` elements, without phonetic runs (``rPh``)."""
    parts: list[str] = []
    for child in element:
        name = local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if local(t.tag) == "t")
    return "".join(parts)


def _ref(ref: str) -> tuple[int, int] | None:
    """``B5`` (or the first cell of ``B5:C9``) -> (row 5, column 1)."""
    match = _REF.match(ref)
    if match is None:
        return None
    column = 0
    for letter in match.group(1).upper():
        column = column * 26 + ord(letter) - 64
    return int(match.group(2)), column - 1


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidReport(f"not a number where a number belongs: {value[:40]!r}") from exc


def _extract(data: bytes) -> Extracted:
    if not data.startswith(b"PK\x03\x04"):
        raise InvalidReport("the content is not an Excel (XLSX) workbook: not a ZIP container")
    package = Package.open(data)
    if package.kind != "xlsx":
        what = "a Word (DOCX) document" if package.kind == "docx" else "not an Excel workbook"
        raise InvalidReport(f"the content is {what}")
    return _Workbook(package).read()


READER = Reader(
    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    extensions=frozenset({".xlsx", ".xlsm", ".xltx"}),
    sniff=lambda head: head.startswith(ZIP_MAGIC),  # identify decides, on the whole file
    signature=ZIP_MAGIC,
    extract=_extract,
    identify=lambda data: office_kind(data) == "xlsx",
)
