"""What a Word paragraph is, by its style and list: a heading of level N, a numbered item.

``Paragraphs(package, styles, numbering)`` reads ``styles.xml`` and ``numbering.xml``
(ECMA-376 Part 1, 17.7 and 17.9), small parts read whole; ``kind(paragraph)`` gives
(heading level, list number) for each paragraph in document order:

- a heading: the paragraph's or its style's outline level (``w:outlineLvl``), or a
  style named "heading N" (Word names built-in styles in English in every language),
  followed through ``basedOn`` (cycles cut);
- a list number: the paragraph's or its style's ``w:numPr`` (``numId`` 0 is none);
  numbers count per list (``numId``) and level from the level's ``w:start`` or the
  list's ``w:startOverride``, a deeper level restarting under each item; only decimal
  formats (decimal, Arabic-Indic ``hindiNumbers``, …) give a number: bullets and
  letters are not numbered entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from preserver.ingest.readers._zip import Package, attr, local

_DECIMAL = frozenset({"decimal", "decimalZero", "decimalFullWidth", "decimalFullWidth2",
                      "decimalHalfWidth", "decimalEnclosedFullstop", "decimalEnclosedParen",
                      "hindiNumbers", "arabicAbjad"})
_HEADING_NAME = re.compile(r"(?i)heading\s*([1-9])$")


@dataclass(frozen=True, kw_only=True)
class _Style:
    heading: int | None
    numbering: tuple[str, int] | None  # (numId, ilvl)
    based_on: str | None


class Paragraphs:
    """The styles and lists of one document, and its list counters."""

    def __init__(self, package: Package, styles: str | None, numbering: str | None) -> None:
        self.package = package
        self.styles = self._styles(styles)
        self.levels, self.num_abstract, self.overrides = self._numbering(numbering)
        self.counters: dict[str, list[int | None]] = {}

    def _styles(self, name: str | None) -> dict[str, _Style]:
        styles: dict[str, _Style] = {}
        if name is None:
            return styles
        for style in self.package.xml(name):
            style_id = attr(style, "styleId")
            if local(style.tag) != "style" or style_id is None:
                continue
            heading = numbering = based_on = None
            for child in style.iter():
                kind = local(child.tag)
                if kind == "name" and (match := _HEADING_NAME.match(attr(child, "val") or "")):
                    heading = int(match.group(1))
                elif kind == "outlineLvl" and (attr(child, "val") or "").isdigit():
                    level = int(attr(child, "val") or "9")
                    heading = heading or (level + 1 if level < 9 else None)
                elif kind == "numPr":
                    numbering = _num_pr(child)
                elif kind == "basedOn":
                    based_on = attr(child, "val")
            styles[style_id] = _Style(heading=heading, numbering=numbering, based_on=based_on)
        return styles

    def _numbering(self, name: str | None) -> tuple[dict[tuple[str, int], tuple[str, int]], dict[str, str],
                                  dict[tuple[str, int], int]]:
        """(abstractNumId, ilvl) -> (format, start); numId -> abstractNumId; overrides."""
        levels: dict[tuple[str, int], tuple[str, int]] = {}
        nums: dict[str, str] = {}
        overrides: dict[tuple[str, int], int] = {}
        if name is None:
            return levels, nums, overrides
        for item in self.package.xml(name):
            kind = local(item.tag)
            if kind == "abstractNum":
                abstract = attr(item, "abstractNumId") or ""
                for lvl in item:
                    if local(lvl.tag) == "lvl":
                        levels[(abstract, _int(attr(lvl, "ilvl"), 0))] = _level(lvl)
            elif kind == "num":
                num = attr(item, "numId") or ""
                for child in item:
                    if local(child.tag) == "abstractNumId":
                        nums[num] = attr(child, "val") or ""
                    elif local(child.tag) == "lvlOverride":
                        for start in child:
                            if local(start.tag) == "startOverride":
                                overrides[(num, _int(attr(child, "ilvl"), 0))] = _int(
                                    attr(start, "val"), 1)
        return levels, nums, overrides

    def kind(self, paragraph: Element) -> tuple[int | None, int | None]:
        """(heading level, list number) of ``paragraph``: a heading has no number; an
        item of a list counts, so call this once per paragraph, in document order."""
        style_id = numbering = heading = None
        for props in paragraph:
            if local(props.tag) != "pPr":
                continue
            for child in props:
                kind = local(child.tag)
                if kind == "pStyle":
                    style_id = attr(child, "val")
                elif kind == "numPr":
                    numbering = _num_pr(child)
                elif kind == "outlineLvl" and (attr(child, "val") or "").isdigit():
                    level = int(attr(child, "val") or "9")
                    heading = level + 1 if level < 9 else None
        seen: set[str] = set()
        while style_id is not None and style_id not in seen:  # basedOn, cycles cut
            seen.add(style_id)
            style = self.styles.get(style_id)
            if style is None:
                break
            heading = heading or style.heading
            numbering = numbering or style.numbering
            style_id = style.based_on
        if heading is not None:
            return heading, None
        return None, self._count(*numbering) if numbering else None

    def _count(self, num: str, level: int) -> int | None:
        """The number of the next item at ``level`` of list ``num``; None if not decimal."""
        if num in ("", "0") or not 0 <= level < 9:
            return None  # numId 0: numbering removed
        fmt, start = self.levels.get((self.num_abstract.get(num, ""), level), ("", 1))
        start = self.overrides.get((num, level), start)
        counters = self.counters.setdefault(num, [None] * 9)
        value = counters[level]
        counters[level] = start if value is None else value + 1
        counters[level + 1:] = [None] * (8 - level)
        return counters[level] if fmt in _DECIMAL else None


def _num_pr(element: Element) -> tuple[str, int] | None:
    num = level = None
    for child in element:
        if local(child.tag) == "numId":
            num = attr(child, "val")
        elif local(child.tag) == "ilvl":
            level = _int(attr(child, "val"), 0)
    return (num, level or 0) if num is not None else None


def _level(lvl: Element) -> tuple[str, int]:
    fmt, start = "decimal", 1
    for child in lvl:
        if local(child.tag) == "numFmt":
            fmt = attr(child, "val") or fmt
        elif local(child.tag) == "start":
            start = _int(attr(child, "val"), 1)
    return fmt, start


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default
