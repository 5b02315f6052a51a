"""Visual order -> logical order for one line of a PDF page (``_pdf_layout``).

A line arrives as its glyphs left to right, as the page shows them. For a
right-to-left paragraph the inverse of the Unicode bidi algorithm (UAX #9) is
applied in a simplified form: everything is reversed but the left-to-right runs
(Latin text with the digits and neutrals within and right after it; numbers,
where a comma, point, slash or colon between two digits joins them, and a plus
or minus does too unless an Arabic letter comes before them, W2 and W4), and
brackets outside those runs are mirrored back (they were drawn mirrored, L4). For
a left-to-right paragraph the right-to-left runs are reversed, with the numbers
inside them kept in order. The inverse is not unique (``Syria 2015`` shown left of
an Arabic word may have been ``2015 Syria``); these choices read reports right.

A line whose Arabic presentation forms read initial-before-final from left to
right was put on the page unreversed (a producer that neither shaped for display
nor reordered) and is left as it is.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

# A glyph's bidi class, simplified: right-to-left letter, left-to-right letter,
# neutral, digit, a separator that joins digits (ES: + -; CS: , . / :).
R, L, N, D, ES, CS = 0, 1, 2, 3, 4, 5
_KINDS = {"R": R, "AL": R, "L": L, "EN": D, "AN": D, "ES": ES, "CS": CS}
_BRACKETS = "()[]{}<>«»‹›"
_MIRROR = str.maketrans(_BRACKETS, ")(][}{><»«›‹")
_CLOSING = {")": "(", "]": "[", "}": "{", ">": "<", "»": "«", "›": "‹"}  # -> its opening


@dataclass(slots=True)
class Unit:
    """One glyph (or a ligature, or a letter with its marks) of a line, or a space."""

    text: str
    left: float
    right: float
    kind: int
    links: list[int] = field(default_factory=list)  # indexes of the links covering it


@dataclass(slots=True)
class Line:
    """One visual line of a page."""

    bottom: float
    top: float
    units: list[Unit]  # left to right, then (after logical) in logical order


def direction(char: str) -> int:
    return _KINDS.get(unicodedata.bidirectional(char[:1]) if char else "", N)


def right_to_left(lines: list[Line]) -> bool:
    """Does the page hold more right-to-left letters than left-to-right ones? Letters of
    words with ``/ . :`` (URLs, which an Arabic report has many of) are not counted."""
    counts = [0, 0]
    for line in lines:
        word: list[Unit] = []
        for unit in [*line.units, None]:
            if unit is not None and unit.text != " ":
                word.append(unit)
                continue
            if not any(u.text in "/.:" for u in word):
                for letter in word:
                    if letter.kind in (R, L):
                        counts[letter.kind] += 1
            word = []
    return counts[R] > counts[L]


def _shown_unreversed(units: list[Unit]) -> bool:
    """Do the line's presentation forms read initial-before-final from left to right?"""
    logical = visual = 0
    run: list[str] = []
    for unit in [*units, None]:
        tag = _form(unit.text) if unit is not None else None
        if tag is not None:
            run.append(tag)
            continue
        if len(run) >= 2:
            logical += run[0] == "<initial>" and run[-1] == "<final>"
            visual += run[0] == "<final>" and run[-1] == "<initial>"
        run = []
    return logical > visual


def _form(text: str) -> str | None:
    code = ord(text[0])
    if 0xFB50 <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF:
        return unicodedata.decomposition(text[0]).split(" ", 1)[0] or None
    return None


def logical(line: Line, *, rtl: bool) -> None:
    """Reorder ``line.units`` from left-to-right to logical order, in place."""
    units = line.units
    if not any(u.kind == R for u in units) or _shown_unreversed(units):
        return
    spans = _ltr_spans(units) if rtl else _rtl_spans(units)
    kept: set[int] = set()
    for start, end in spans:
        kept.update(range(start, end))
    mirrored = [unit for index, unit in enumerate(units)
                if unit.kind == N and unit.text in _BRACKETS and (index not in kept) == rtl]
    for unit in mirrored:  # brackets shown right to left were drawn mirrored
        unit.text = unit.text.translate(_MIRROR)
    if rtl:  # everything right to left but the left-to-right runs
        segments: list[list[Unit]] = []
        at = 0
        for start, end in spans:
            segments.extend([u] for u in units[at:start])
            segments.append(units[start:end])
            at = end
        segments.extend([u] for u in units[at:])
        line.units = [u for segment in reversed(segments) for u in segment]
    else:  # the right-to-left runs reversed, and the numbers inside them back again
        for start, end in spans:
            run = units[start:end][::-1]
            for first, last in _number_runs(run):
                run[first:last] = run[first:last][::-1]
            units[start:end] = run
    _balance(line.units, mirrored)


def _balance(units: list[Unit], mirrored: list[Unit]) -> None:
    """Mirror ``mirrored`` back if that balances the line's brackets better: a library may
    have mirrored them already (PDFium does, in the runs it takes for right to left)."""
    if not mirrored:
        return
    ids = {id(unit) for unit in mirrored}
    texts = [u.text for u in units if u.text in _BRACKETS]
    swapped = [u.text.translate(_MIRROR) if id(u) in ids else u.text
               for u in units if u.text in _BRACKETS]
    if _unbalanced(swapped) < _unbalanced(texts):
        for unit in mirrored:
            unit.text = unit.text.translate(_MIRROR)


def _unbalanced(brackets: list[str]) -> int:
    """How often a closing bracket comes with none open, plus those left open."""
    depth = dict.fromkeys(_CLOSING.values(), 0)
    wrong = 0
    for bracket in brackets:
        if bracket not in _CLOSING:
            depth[bracket] += 1
        elif depth[_CLOSING[bracket]]:
            depth[_CLOSING[bracket]] -= 1
        else:
            wrong += 1
    return wrong + sum(depth.values())


def _ltr_spans(units: list[Unit]) -> list[tuple[int, int]]:
    """The left-to-right runs of a right-to-left line, in left-to-right order, as
    ``(start, end)`` slices: Latin text (with the digits and neutrals within and right
    after it, up to the next right-to-left letter), and numbers (a single separator
    between two digits joins them: a comma, point, slash or colon always, a plus or
    minus only when no Arabic letter comes before them, UAX #9 W2, W4)."""
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(units):
        if units[index].kind != L:
            index += 1
            continue
        end = index
        probe = index
        while probe < len(units) and units[probe].kind != R:
            if units[probe].kind in (L, D):
                end = probe
            probe += 1
        spans.append((index, end + 1))
        index = end + 1
    inside = {i for start, end in spans for i in range(start, end)}
    strong = _strong_after(units)
    index = 0
    while index < len(units):
        if index in inside or units[index].kind != D:
            index += 1
            continue
        # after an Arabic letter (logically before: to the right) digits are Arabic numbers
        joins = (CS,) if strong[index] == R else (CS, ES)
        end = index + 1
        while end < len(units) and end not in inside and (units[end].kind == D or (
                units[end].kind in joins and end + 1 < len(units)
                and end + 1 not in inside and units[end + 1].kind == D)):
            end += 1
        spans.append((index, end))
        index = end
    return sorted(spans)


def _strong_after(units: list[Unit]) -> list[int | None]:
    """For each unit, the kind of the first strong letter at or right of it (one pass)."""
    found: list[int | None] = [None] * len(units)
    kind: int | None = None
    for index in range(len(units) - 1, -1, -1):
        if units[index].kind in (R, L):
            kind = units[index].kind
        found[index] = kind
    return found


def _number_runs(units: list[Unit]) -> list[tuple[int, int]]:
    """Digits, with a single comma, point, slash or colon (CS) between two digits, as
    in an Arabic number (UAX #9 W2, W4: a plus or minus joins digits only when no Arabic
    letter comes before them)."""
    runs: list[tuple[int, int]] = []
    joins = (CS,)
    index = 0
    while index < len(units):
        if units[index].kind != D:
            index += 1
            continue
        end = index + 1
        while end < len(units) and (units[end].kind == D or (
                units[end].kind in joins and end + 1 < len(units)
                and units[end + 1].kind == D)):
            end += 1
        runs.append((index, end))
        index = end
    return runs


def _rtl_spans(units: list[Unit]) -> list[tuple[int, int]]:
    """The right-to-left runs of a left-to-right line: from a right-to-left letter to the
    last one before the next left-to-right letter."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    end = -1
    for index, unit in enumerate([*units, None]):
        kind = unit.kind if unit is not None else L
        if kind == R:
            start = index if start is None else start
            end = index
        elif kind == L and start is not None:
            spans.append((start, end + 1))
            start = None
    return spans


