"""Lists of links kept as tables (CSV, XLSX): which column is which, and a row as a line.

Shared by the CSV and XLSX readers. A table's text has one line per row of the file
(a CSV's line, a sheet's row number), written ``label<TAB>cells…`` for the link finder
(``ReportText.tables``, ``preserver.ingest.links``):

- the *label* cell comes first: the column headed label, title, name, الاسم, العنوان, …
  (``LABEL_NAMES``), empty when there is none, so the links of a row without one are
  labelled by the usual rules with the row alone as their paragraph;
- the other cells follow in their order, the *notes* columns (notes, description,
  ملاحظات, …) last, so a label taken from a row's first words prefers its other cells;
- in the *URL* column (headed url, link, href, source, رابط, الرابط, … in
  ``URL_NAMES``, or else the column whose cells most often hold an http(s) URL among
  the first ``SAMPLE_ROWS``) a
  host-and-path cell without a scheme (``example.org/a``) gets ``https://``;
- a ``=HYPERLINK("url","text")`` cell is written ``text <url>``: the URL is the cited
  link, taken from the literal first argument; no other formula is evaluated, a cell
  starting with ``=``, ``+``, ``-`` or ``@`` is kept as the text it is;
- tabs and line breaks within a cell become spaces.

Every URL in a row is a citation (as in every other format), all labelled alike.
Headers match case-insensitively, whitespace and a trailing colon aside.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, islice

from preserver.errors import InvalidReport
from preserver.ingest.readers._anchors import hyperlink_url, linked

URL_NAMES = frozenset({
    "url", "urls", "link", "links", "href", "source", "sources", "video", "video url",
    "video link", "youtube", "web", "website", "lien", "رابط", "الرابط", "روابط", "الروابط",
    "رابط الفيديو", "الفيديو", "فيديو", "المصدر", "مصدر", "المصادر",
})  # fmt: skip
LABEL_NAMES = frozenset({
    "label", "title", "name", "names", "victim", "victim name", "full name", "الاسم", "اسم",
    "الأسم", "الإسم", "الاسم الكامل", "العنوان", "عنوان", "الضحية", "اسم الضحية",
})  # fmt: skip
NOTE_NAMES = frozenset({
    "notes", "note", "description", "comment", "comments", "details", "remarks", "ملاحظات",
    "ملاحظة", "الوصف", "وصف", "تفاصيل", "التفاصيل",
})  # fmt: skip
SAMPLE_ROWS = 1_000  # the rows the URL column is found in by content
MAX_TEXT = 64 << 20  # characters of a table's text (a 50 MB CSV makes at most ~50 Mi)
_URL = re.compile(r"(?i)\bhttps?://")
_BARE = re.compile(r"(?i)[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*\.[a-z]{2,24}(?:[/?#]\S*)?")
_BREAKS = re.compile("[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
_FRIENDLY = re.compile(r'(?is)^\s*=?\s*HYPERLINK\s*\(\s*(?:"[^"]*"|[^,()]*)\s*[,;]\s*"([^"]*)"')
_CHUNK_LINES = 4096


@dataclass(frozen=True, kw_only=True)
class Columns:
    """The roles of a table's columns (0-based); ``header``: its first row names them."""

    url: int | None = None
    label: int | None = None
    notes: frozenset[int] = frozenset()
    header: bool = False


def _name(cell: str) -> str:
    return " ".join(cell.split()).rstrip(":\uff1a").strip().lower()


def by_header(cells: Sequence[str]) -> Columns | None:
    """The columns a header row names, or None if ``cells`` is not a header (no cell
    names a role, or one holds a URL)."""
    names = [_name(cell) for cell in cells]
    if any(_URL.search(cell) for cell in cells):
        return None
    url = next((i for i, n in enumerate(names) if n in URL_NAMES), None)
    label = next((i for i, n in enumerate(names) if n in LABEL_NAMES), None)
    notes = frozenset(i for i, n in enumerate(names) if n in NOTE_NAMES)
    if url is None and label is None and not notes:
        return None
    return Columns(url=url, label=label, notes=notes, header=True)


def columns_of(rows: Iterable[Sequence[str]]) -> Columns:
    """The columns of a table whose first rows are ``rows``: as its first non-empty row
    names them, the URL column else the one whose cells most often hold a URL."""
    header: Columns | None = None
    first = True
    counts: Counter[int] = Counter()
    for cells in rows:
        if first and any(cell.strip() for cell in cells):
            header, first = by_header(cells), False
        counts.update(index for index, cell in enumerate(cells) if _URL.search(cell))
    if header is not None and header.url is not None:
        return header
    url = min(counts, key=lambda i: (-counts[i], i)) if counts else None
    if header is None:
        return Columns(url=url)
    return Columns(url=url, label=header.label, notes=header.notes, header=True)


def write_rows(rows: Iterable[tuple[int, list[str]]], lines: Lines) -> None:
    """Write a table's rows, each ``(line, cells)``: the line it goes on, counted from the
    table's first (1), ascending; the cells as ``cell_text`` made them. Lines no row
    starts on stay empty. The columns are found in the first ``SAMPLE_ROWS`` rows."""
    start = lines.count
    rows = iter(rows)
    sample = list(islice(rows, SAMPLE_ROWS))
    columns = columns_of(cells for _, cells in sample)
    for number, cells in chain(sample, rows):
        while lines.count < start + number - 1:
            lines.add("")
        lines.add(row_line(cells, columns))


def cell_text(cell: str, *, url: str | None = None) -> str:
    """A cell's text on one line, a HYPERLINK formula or a cell's own link as ``text <url>``."""
    formula = hyperlink_url(cell) if cell.lstrip()[:1] == "=" else None
    if formula is not None:
        friendly = _FRIENDLY.match(cell)
        cell = linked(friendly.group(1) if friendly else "", formula)
    return linked(_BREAKS.sub(" ", cell).strip(), url)


def row_line(cells: Sequence[str], columns: Columns) -> str:
    """One row as its line: ``label<TAB>cells…`` (see the module docstring)."""
    label = cells[columns.label] if columns.label is not None and columns.label < len(cells) \
        else ""
    rest: list[str] = []
    notes: list[str] = []
    for index, cell in enumerate(cells):
        if index == columns.label or not cell:
            continue
        if index == columns.url and _BARE.fullmatch(cell.strip()):
            cell = "https://" + cell.strip()
        (notes if index in columns.notes else rest).append(cell)
    return "\t".join([label, *rest, *notes]).rstrip("\t") if rest or notes or label else ""


class Lines:
    """A table's text, written a line at a time and appended to one string in chunks of
    lines, so a million rows are never a million strings, nor the text twice, at once;
    refused past ``MAX_TEXT`` characters.

    The string grows in place: CPython resizes a string that only one local name holds
    (``+=``), and glibc grows a block this large by remapping its pages rather than
    copying them. A million-row CSV's text (85 MiB) peaked at 172 MiB when its chunks
    were kept and joined at the end, and at about 90 MiB appended this way
    (``tests/hostile/test_hostile_office.py``, the million-row CSV)."""

    def __init__(self) -> None:
        self._text = ""
        self._lines: list[str] = []
        self._size = 0
        self.count = 0

    def add(self, line: str) -> None:
        self._size += len(line) + 1
        if self._size > MAX_TEXT:
            raise InvalidReport(f"the table's text is longer than {MAX_TEXT} characters")
        self._lines.append(line)
        self.count += 1
        if len(self._lines) >= _CHUNK_LINES:
            self._append()

    def _append(self) -> None:
        text, self._text = self._text, ""  # one reference: ``+=`` may resize in place
        text += ("\n" if self.count > len(self._lines) else "") + "\n".join(self._lines)
        self._text, self._lines = text, []

    def text(self) -> str:
        """The lines joined by line breaks, without trailing ones."""
        if self._lines:
            self._append()
        text, self._text = self._text, ""
        return text.rstrip("\n") if text.endswith("\n") else text
