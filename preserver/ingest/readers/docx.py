"""Word reports (``.docx``, or any file whose content is one) as plain text that keeps every link.

Reads the WordprocessingML parts (ECMA-376 Part 1, 17) of a ZIP opened within the
bounds of ``_zip`` (parts, sizes, ratio; XML without DTDs). Promised:

- each paragraph on a line of its own, paragraphs separated by a blank line; each
  table row on one line, its cells separated by a tab (as the HTML reader's ``tr``);
- a paragraph styled Heading N (by the style's name or outline level, through
  ``basedOn``) becomes a ``## text`` line, so it labels the links below it;
- a paragraph of a decimal numbered list (``w:numPr``, its own or its style's) gets
  its computed number as ``5- text``, so the link finder sees a numbered entry;
  numbers count per list (``w:numId``) and level, from the level's ``w:start``
  (``_docx_styles``); an item in a table cell counts and shows its number too;
- a hyperlink (``w:hyperlink`` whose relationship is an External http(s) target) and a
  ``HYPERLINK`` field code (``w:fldSimple``, or a complex field ``begin … instrText …
  separate … end``, also across paragraphs) are written ``words <url>`` unless the
  words show the URL (``_anchors.linked``); bookmarks and ``mailto:`` are not links;
  at most ``MAX_FIELDS`` fields are open at once, and a field keeps at most ``_SHOWN``
  characters of its words (only a HYPERLINK's, to compare with its URL);
- headers and footers come first (no heading or entry of the body precedes them, so
  their links are labelled by their own words), then the body, then each footnote and
  endnote as an entry ``n) text`` (``n`` counts them in order) labelling its own links.
  Each part's hyperlinks resolve through its own ``.rels`` part.

Deleted text (tracked changes), field instructions and the fallback copy of text
boxes are not text. The body is streamed one top-level block at a time, each of at
most ``MAX_BLOCK`` elements (a block is held whole: 4 million runs in one paragraph, an
11 MB file, held 1.2 GB).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from preserver.errors import InvalidReport
from preserver.ingest.readers._anchors import hyperlink_url, linked, web_url
from preserver.ingest.readers._base import Reader
from preserver.ingest.readers._docx_styles import Paragraphs
from preserver.ingest.readers._zip import ZIP_MAGIC, Package, attr, local, office_kind

MAX_TEXT = 64 << 20  # characters of text written: well past what 256 MiB of XML shows
# elements of one top-level block (a paragraph, a table), held whole while it is read:
# ~150 bytes each; a 200-page table is ~300,000
MAX_BLOCK = 1_000_000
MAX_FIELDS = 64  # fields open at once (nested, or begun and never ended)
_SHOWN = 4096  # characters of a HYPERLINK field's result kept, to see if it shows the URL
_SKIP = frozenset({"del", "moveFrom", "rPr", "pPr", "delText", "delInstrText", "Fallback",
                   "tblPr", "trPr", "tcPr", "sectPr", "commentReference"})
_NOTE_PARTS = (("footnotes", "footnote"), ("endnotes", "endnote"))


@dataclass
class _Field:
    instr: list[str] = field(default_factory=list)
    shown: list[str] | None = None  # None until "separate": the code is still being read
    url: str | None = None  # from "separate": a HYPERLINK field's URL
    kept: int = 0  # characters in ``shown``, at most ``_SHOWN``


class _Document:
    """The state of one pass over a document's parts: styles, list counters, open fields."""

    def __init__(self, package: Package) -> None:
        self.package = package
        self.main = package.main or "word/document.xml"
        self.rels = package.relationships(self.main)
        self.paragraphs = Paragraphs(package, self._part("styles"), self._part("numbering"))
        self.fields: list[_Field] = []
        self.links: dict[str, tuple[str, str, bool]] = {}  # the part being read's relationships
        self.out = io.StringIO()
        self.blank = True  # the last thing written ends a paragraph

    # -- the parts --------------------------------------------------------------------

    def _part(self, kind: str) -> str | None:
        for rel_type, target, external in self.rels.values():
            if rel_type == kind and not external and self.package.has(target):
                return target
        return None

    def read(self) -> str:
        headers = [t for kind, t, ext in self.rels.values()
                   if kind in ("header", "footer") and not ext and self.package.has(t)]
        for header in dict.fromkeys(headers):  # each part once, in the order of the rels
            self._blocks(header, depth=2)
        self._blocks(self.main, depth=3)
        for kind, note in _NOTE_PARTS:
            if (notes := self._part(kind)) is not None:
                self._notes(notes, note)
        return self.out.getvalue().strip("\n")

    def _blocks(self, part: str, *, depth: int) -> None:
        """The blocks (paragraphs, tables) of ``part`` at ``depth`` (document/body/p: 3),
        each handled and dropped as soon as it ends."""
        self.links = self.package.relationships(part)
        for block in _at_depth(self.package, part, depth):
            self._block(block)

    def _notes(self, part: str, note: str) -> None:
        self.links = self.package.relationships(part)
        number = 0
        for element in _at_depth(self.package, part, 2):
            if local(element.tag) != note or attr(element, "type") not in (None, "normal"):
                continue  # the separator "notes" Word keeps
            number += 1
            text = " ".join(self._text(block) for block in element if local(block.tag) == "p")
            self._write(f"{number}) {' '.join(text.split())}\n")
            self._end_paragraph()

    # -- blocks ---------------------------------------------------------------------

    def _block(self, block: Element) -> None:
        kind = local(block.tag)
        if kind == "p":
            self._paragraph(block)
        elif kind == "tbl":
            self._end_paragraph()
            for row in block:
                if local(row.tag) == "tr":
                    self._row(row)
            self._end_paragraph()
        elif kind in ("sdt", "sdtContent", "customXml", "ins", "moveTo"):
            for child in block:
                self._block(child)

    def _row(self, row: Element) -> None:
        cells: list[str] = []
        for cell in _cells(row):
            words: list[str] = []
            for child in cell:
                if local(child.tag) == "tbl":  # a table in a cell: its cells, flattened (each
                    words.extend(self._text(c)  # once: a table in one of them is in its text)
                                 for r in child if local(r.tag) == "tr" for c in _cells(r))
                elif local(child.tag) == "p":  # a list item counts, and shows its number
                    text = self._text(child)
                    _, number = self.paragraphs.kind(child)
                    words.append(f"{number}- {text.lstrip()}" if number and text.strip()
                                 else text)
                else:
                    words.append(self._text(child))
            cells.append(" ".join(" ".join(w.split()) for w in words if w.strip()))
        line = "\t".join(cells).strip()
        if line:
            self._write(line + "\n")
            self.blank = False

    def _paragraph(self, paragraph: Element) -> None:
        text = self._text(paragraph)
        heading, number = self.paragraphs.kind(paragraph)
        if text.strip():
            if heading is not None:
                text = "#" * min(heading, 6) + " " + " ".join(text.split())
            elif number is not None:
                text = f"{number}- {text.lstrip()}"
            self._write(text.strip("\n") + "\n")
        self._end_paragraph()

    # -- inline content ---------------------------------------------------------------

    def _text(self, element: Element) -> str:
        out: list[str] = []
        self._inline(element, out)
        return "".join(out)

    def _emit(self, out: list[str], text: str) -> None:
        out.append(text)
        for open_field in self.fields:  # only a link's words are kept, and a few of them
            if open_field.shown is not None and open_field.url and open_field.kept < _SHOWN:
                open_field.shown.append(text)
                open_field.kept += len(text)

    def _inline(self, element: Element, out: list[str]) -> None:
        for child in element:
            kind = local(child.tag)
            if kind in _SKIP:
                continue
            if kind == "t":
                self._emit(out, child.text or "")
            elif kind == "tab":
                self._emit(out, "\t")
            elif kind in ("br", "cr"):
                self._emit(out, "\n")
            elif kind == "noBreakHyphen":
                self._emit(out, "-")
            elif kind == "p":  # a paragraph inside a text box
                self._emit(out, " ")
                self._inline(child, out)
                self._emit(out, " ")
            elif kind == "hyperlink":
                rel = self.links.get(attr(child, "id") or "")
                self._linked(child, out, web_url(rel[1]) if rel and rel[2] else None)
            elif kind == "fldSimple":
                self._linked(child, out, hyperlink_url(attr(child, "instr") or ""))
            elif kind == "fldChar":
                self._field_char(attr(child, "fldCharType"), out)
            elif kind == "instrText":
                if self.fields and self.fields[-1].shown is None:
                    self.fields[-1].instr.append(child.text or "")
            else:  # runs, inserted text, smart tags, content controls, drawings
                self._inline(child, out)

    def _linked(self, element: Element, out: list[str], url: str | None) -> None:
        before = len(out)
        self._inline(element, out)
        shown = "".join(out[before:])
        if url is not None and linked(shown, url) != shown:
            self._emit(out, f" <{url}>" if shown.strip() else f"<{url}>")

    def _field_char(self, kind: str | None, out: list[str]) -> None:
        if kind == "begin":
            if len(self.fields) >= MAX_FIELDS:
                raise InvalidReport(f"more than {MAX_FIELDS} fields open at once (nested, "
                                    "or begun and never ended)")
            self.fields.append(_Field())
        elif kind == "separate" and self.fields and self.fields[-1].shown is None:
            self.fields[-1].shown = []
            self.fields[-1].url = hyperlink_url("".join(self.fields[-1].instr))
        elif kind == "end" and self.fields:
            done = self.fields.pop()
            url = done.url if done.shown is not None else hyperlink_url("".join(done.instr))
            shown = "".join(done.shown or [])
            if url is not None and linked(shown, url) != shown:
                self._emit(out, f" <{url}>" if shown.strip() else f"<{url}>")

    # -- output -----------------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self.out.tell() + len(text) > MAX_TEXT:
            raise InvalidReport(f"the document's text is longer than {MAX_TEXT} characters")
        self.out.write(text)
        self.blank = False

    def _end_paragraph(self) -> None:
        if not self.blank:
            self.out.write("\n")
            self.blank = True


def _at_depth(package: Package, part: str, depth: int) -> Iterator[Element]:
    """The elements of ``part`` at ``depth`` (the root is 1), each as it ends; then dropped."""
    stack: list[Element] = []
    held = 0  # elements started since the last block was dropped
    for event, element in package.iterparse(part):
        if event == "start":
            stack.append(element)
            held += 1
            if held > MAX_BLOCK:
                raise InvalidReport(f"{part}: a paragraph or table of more than {MAX_BLOCK} "
                                    "elements")
            continue
        stack.pop()
        if len(stack) == depth - 1:
            yield element
            if stack:
                stack[-1].clear()  # the block is handled: free it (and its parent's list)
            held = 0


def _cells(row: Element) -> Iterator[Element]:
    for child in row:
        kind = local(child.tag)
        if kind == "tc":
            yield child
        elif kind in ("sdt", "sdtContent", "customXml"):
            yield from _cells(child)


def _extract(data: bytes) -> str:
    package = Package.open(data)
    if package.kind != "docx":
        what = "an Excel (XLSX) workbook" if package.kind == "xlsx" else "not a Word document"
        raise InvalidReport(f"the content is {what}")
    try:
        return _Document(package).read()
    except RecursionError as exc:  # elements nested thousands deep: no document does that
        raise InvalidReport("elements nested too deeply to be a document") from exc


def _extract_checked(data: bytes) -> str:
    if not data.startswith(b"PK\x03\x04"):
        raise InvalidReport("the content is not a Word (DOCX) document: not a ZIP container")
    return _extract(data)


READER = Reader(
    media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    extensions=frozenset({".docx", ".docm", ".dotx"}),
    sniff=lambda head: head.startswith(ZIP_MAGIC),  # identify decides, on the whole file
    signature=ZIP_MAGIC,
    extract=_extract_checked,
    identify=lambda data: office_kind(data) == "docx",
)
