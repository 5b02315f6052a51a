"""A PDF page's glyphs and link annotations -> lines of logical-order text.

Pure geometry and Unicode, no PDF library: ``pdf.py`` hands over each glyph (its
text, loose box and origin, in the order the library gives them) and each http(s)
link annotation (its URI and rectangle), and ``page_lines`` returns the page's lines
(docs/reports.md "From glyphs to logical lines").

Promised, and why:

- **One line per visual line**: the glyphs on one baseline, ordered left to right
  (position, not storage order, decides: Chromium stores Arabic glyph runs in visual
  order, arabic-reshaper + python-bidi producers the whole line in visual order, and
  the page itself is always visual). A letter-and-mark cluster to which a producer
  gave the mark's box reaches back to its origin; a combining mark joins the letter it
  overlaps. Words are split by the producer's space glyphs and by gaps wider than a
  fifth of the line's height.
- **Logical order, NFKC**: each line goes through ``_pdf_bidi.logical`` (the page is
  right to left when it holds more right-to-left letters than left-to-right ones,
  URLs not counted) and is NFKC normalised, so presentation forms (U+FB50–FDFF,
  U+FE70–FEFF) become the letters a text report holds.
- **Blocks**: a gap between two lines of more than half a line's height is a blank
  line; a line at least 1.2 times as tall as the page's usual line, and short, is a
  heading (``## text``), so it labels the links below it as the HTML reader's
  headings do (``preserver.ingest.links``).
- **Links behind words**: each annotation's URL is written right after the last
  word its rectangle covers (``words <url>``), unless the words it covers already
  show the URL (percent-encoded or not); one link split over two lines (two
  rectangles, one URI) is written once. An annotation that covers no text goes at
  the end of the line nearest it. Finding the covered glyphs is O(links × log lines + glyphs covered), and a page
  whose annotations cover over ``MAX_COVERED`` glyphs in all (overlapping
  annotations, repeated to make the work quadratic) is refused with ``InvalidReport``.
- **Wrapped URLs** are joined back by ``_pdf_urls.join_wrapped_urls``, told which
  lines a link annotation shows going on.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from urllib.parse import unquote

from preserver.errors import InvalidReport
from preserver.ingest.readers._pdf_bidi import Line, N, Unit, direction, logical, right_to_left
from preserver.ingest.readers._pdf_urls import join_wrapped_urls

_SPACE_GAP = 0.2  # of the line's height: a wider gap between glyphs is a space
_SAME_LINE = 0.3  # of a tall glyph's height: baselines closer than this are one line
_MIN_WIDTH = 0.01  # a space glyph narrower than this is not placed where it shows
_BLOCK_GAP = 0.5  # of the line's height: a wider gap between lines is a blank line
_HEADING_SIZE = 1.2  # times the page's usual line height
_MAX_HEADING = 120  # characters
MAX_COVERED = 1_000_000  # glyphs covered by annotations on one page, counted per annotation
_SCHEME = re.compile(r"(?i)^https?://(?:www\.)?")


@dataclass(frozen=True, kw_only=True, slots=True)
class Glyph:
    """One character (or a ligature's characters) and its box in page units."""

    text: str
    left: float
    bottom: float
    right: float
    top: float
    origin: float  # x of the glyph's origin (where the producer placed it)
    baseline: float  # y of the glyph's origin


@dataclass(frozen=True, kw_only=True, slots=True)
class Link:
    """A URI link annotation: an absolute http(s) URL and its rectangle."""

    url: str
    left: float
    bottom: float
    right: float
    top: float


def page_lines(glyphs: list[Glyph], links: list[Link]) -> list[str]:
    """The page's text lines, blank lines between blocks (see the module docstring).
    Raises ``InvalidReport`` when the annotations cover over ``MAX_COVERED`` glyphs."""
    lines = _group(glyphs)
    _cover(lines, links)
    rtl = right_to_left(lines)
    for line in lines:
        logical(line, rtl=rtl)
    texts, wrapped = _with_links(lines, links)
    return join_wrapped_urls(*_blocks(lines, texts, wrapped))


def _group(glyphs: list[Glyph]) -> list[Line]:
    """Glyphs -> lines, top to bottom, each left to right; whitespace glyphs dropped and
    spaces written where the gaps are.

    A line is the glyphs on one baseline (within 0.3 of a tall glyph's height: a box
    is no guide, as a producer may give a letter a mark's box). A combining mark
    (shadda, tanween) joins the letter of its line that it overlaps most."""
    bases: list[Glyph] = []
    marks: list[Glyph] = []
    for glyph in glyphs:
        if not glyph.text or (glyph.text.isspace() and (
                glyph.text != " " or glyph.right - glyph.left < _MIN_WIDTH)):
            continue  # a space with no width is not where it shows: gaps decide there
        if unicodedata.combining(glyph.text[0]):
            marks.append(glyph)
        elif bases and _same_box(bases[-1], glyph):
            last = bases[-1]
            bases[-1] = replace(last, text=last.text + glyph.text)
        else:
            bases.append(glyph)
    # A letter drawn with a mark is one cluster, and a producer may give the letter the
    # mark's narrow box: it reaches back to the cluster's origin.
    clusters = {(mark.origin, mark.baseline) for mark in marks}
    if clusters:
        bases = [replace(g, left=min(g.left, g.origin))
                 if (g.origin, g.baseline) in clusters else g for g in bases]
    heights = sorted(g.top - g.bottom for g in bases)
    tolerance = _SAME_LINE * heights[len(heights) * 9 // 10] if heights else 0.0
    bases.sort(key=lambda g: -g.baseline)
    baselines: list[float] = []  # negated, ascending
    members: list[list[Glyph]] = []
    for glyph in bases:
        if members and -baselines[-1] - glyph.baseline <= tolerance:
            members[-1].append(glyph)
        else:
            baselines.append(-glyph.baseline)
            members.append([glyph])
    lines = [_line(group) for group in members]
    centres: dict[int, list[float]] = {}
    for mark in marks:
        if not lines:
            break
        at = bisect_left(baselines, -mark.baseline)
        number = min((n for n in (at - 1, at) if 0 <= n < len(lines)),
                     key=lambda n: abs(baselines[n] + mark.baseline))
        units = lines[number].units
        xs = centres.setdefault(number, [(u.left + u.right) / 2 for u in units])
        at = bisect_left(xs, (mark.left + mark.right) / 2)
        near = [n for n in (at - 2, at - 1, at, at + 1)
                if 0 <= n < len(units) and units[n].text != " "]
        if near:
            best = max(near, key=lambda n: min(mark.right, units[n].right)
                       - max(mark.left, units[n].left))
            units[best].text += mark.text
    return [line for line in lines if line.units]


def _line(group: list[Glyph]) -> Line:
    """One line's glyphs, left to right, as units; a space where the producer wrote one
    or where the gap is wider than a fifth of the line's height."""
    group.sort(key=lambda g: (g.left + g.right) / 2)
    line = Line(bottom=min(g.bottom for g in group), top=max(g.top for g in group), units=[])
    gap = _SPACE_GAP * (line.top - line.bottom)
    for glyph in group:
        previous = line.units[-1] if line.units else None
        if glyph.text == " ":
            if previous is not None and previous.text != " ":
                line.units.append(Unit(text=" ", left=glyph.left, right=glyph.right, kind=N))
            continue
        if previous is not None and previous.text != " " and glyph.left - previous.right > gap:
            line.units.append(Unit(text=" ", left=previous.right, right=glyph.left, kind=N))
        line.units.append(Unit(text=glyph.text, left=glyph.left, right=glyph.right,
                                kind=direction(glyph.text)))
    while line.units and line.units[-1].text == " ":
        line.units.pop()
    return line


def _same_box(one: Glyph, other: Glyph) -> bool:
    """One glyph, several characters (a ligature such as lam-alef, stored in order)."""
    return (one.left, one.bottom, one.right, one.top) == \
        (other.left, other.bottom, other.right, other.top)


def _by_middle(lines: list[Line]) -> tuple[list[int], list[float]]:
    """The lines' numbers ordered by their vertical middle, and those middles (a line's
    baseline orders the lines, but a tall glyph may put its middle out of that order)."""
    order = sorted(range(len(lines)), key=lambda n: lines[n].bottom + lines[n].top)
    return order, [(lines[n].bottom + lines[n].top) / 2 for n in order]


def _cover(lines: list[Line], links: list[Link]) -> None:
    """Mark each unit with the links whose rectangle holds its centre; O(links × log lines
    + units covered), the units covered bounded by ``MAX_COVERED``."""
    order, middles = _by_middle(lines)
    centres: dict[int, list[float]] = {}
    covered = 0
    for index, link in enumerate(links):
        for number in order[bisect_left(middles, link.bottom):bisect_right(middles, link.top)]:
            units = lines[number].units
            xs = centres.get(number)
            if xs is None:
                xs = centres[number] = [(u.left + u.right) / 2 for u in units]
            start, end = bisect_left(xs, link.left), bisect_right(xs, link.right)
            covered += max(0, end - start)
            if covered > MAX_COVERED:
                raise InvalidReport(f"link annotations cover over {MAX_COVERED} "
                                    "characters on one page (overlapping annotations)")
            for unit in units[start:end]:
                unit.links.append(index)


def _with_links(lines: list[Line], links: list[Link]) -> tuple[list[str], set[int]]:
    """Each line's text, with the URL of each link written after the words it covers; and
    the lines whose URL a link shows going on at the next line (a wrapped URL)."""
    after: dict[tuple[int, int], list[str]] = {}  # (line, unit) -> URLs written after it
    shown: dict[int, list[str]] = {}
    first: dict[int, int] = {}  # link -> the first line it covers
    last: dict[int, tuple[int, int]] = {}
    wrapped: set[int] = set()
    for number, line in enumerate(lines):
        for position, unit in enumerate(line.units):
            for index in unit.links:
                shown.setdefault(index, []).append(unit.text)
                first.setdefault(index, number)
                last[index] = (number, position)
    groups: list[list[int]] = []  # one link over two lines: two rectangles, one URI
    for index in sorted(last, key=last.__getitem__):
        if groups and links[groups[-1][-1]].url == links[index].url and \
                last[index][0] - last[groups[-1][-1]][0] <= 1:
            groups[-1].append(index)
        else:
            groups.append([index])
    for group in groups:
        url = links[group[0]].url
        text = unicodedata.normalize("NFKC", "".join("".join(shown[i]) for i in group))
        bare, text = _SCHEME.sub("", url).rstrip("/"), text.replace(" ", "")
        number, position = last[group[-1]]
        if bare in text or unicodedata.normalize("NFKC", unquote(bare)) in text:
            wrapped.update(range(min(first[i] for i in group), number))
            continue  # shown: also as an IRI (a URI percent-encoded, shown decoded)
        units = lines[number].units
        while position + 1 < len(units) and units[position + 1].text != " ":
            position += 1  # to the end of the word
        after.setdefault((number, position), []).append(url)
    order, middles = _by_middle(lines)
    for index, link in enumerate(links):  # covering no text: the nearest line
        if index not in last and lines:
            middle = (link.bottom + link.top) / 2
            at = bisect_left(middles, middle)
            near = [k for k in (at - 1, at) if 0 <= k < len(order)]
            number = order[min(near, key=lambda k: (abs(middles[k] - middle), order[k]))]
            after.setdefault((number, len(lines[number].units) - 1), []).append(link.url)
    texts = []
    for number, line in enumerate(lines):
        parts = []
        for position, unit in enumerate(line.units):
            parts.append(unit.text)
            parts.extend(f" <{url}>" for url in after.get((number, position), ()))
        texts.append(unicodedata.normalize("NFKC", "".join(parts)).strip())
    return texts, wrapped


def _blocks(lines: list[Line], texts: list[str], wrapped: set[int]
            ) -> tuple[list[str], set[int]]:
    """Blank lines between blocks; headings marked; ``wrapped`` as indexes of the result."""
    heights = sorted(line.top - line.bottom for line in lines)
    usual = heights[len(heights) // 2] if heights else 0.0
    out: list[str] = []
    moved: set[int] = set()
    previous: Line | None = None
    for number, (line, text) in enumerate(zip(lines, texts, strict=True)):
        height = line.top - line.bottom
        if previous is not None and out and out[-1] and \
                previous.bottom - line.top > _BLOCK_GAP * min(height, previous.top - previous.bottom):
            out.append("")
        if height >= _HEADING_SIZE * usual and len(text) <= _MAX_HEADING and \
                not text.startswith("#"):
            text = "## " + text
        if number in wrapped:
            moved.add(len(out))
        out.append(text)
        previous = line
    return out, moved
