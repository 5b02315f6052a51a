"""Find the links a report cites, each with its place and the evidence item it belongs to.

docs/design.md "Links and targets" (contract): a *citation* is one occurrence of a
URL — line, character offset, the raw URL as written, and a *label*.
``extract_links(text)`` promises, for the text of a ``ReportText``:

- every ``http(s)://`` URL, and the scheme-less forms reports use (``www.…``, and
  ``<host>/…`` on the YouTube and Facebook hosts reports cite: the site and
  short-link hosts of ``workers.platforms``, e.g. ``youtu.be/…``,
  ``m.facebook.com/…``), in document order; a URL cited twice is two
  ``FoundLink``s;
- URLs end where URL characters end. The host is ASCII (RFC 3986), so an
  Arabic word glued before a URL or right after a bare host
  (``https://example.orgالفيديو``) is never part of it. After the host, once
  the path (``/``), query (``?``) or fragment (``#``) has started, non-ASCII
  letters, marks and digits (RFC 3987 ``ucschar``: ``str.isalnum()`` or
  Unicode category L*/M*/N*) are URL characters too, so
  ``https://ar.wikipedia.org/wiki/مجزرة_دوما`` and ``?q=دوما`` are whole.
  Except on those YouTube and Facebook hosts: their ids are ASCII and reports
  glue Arabic words to these links, so there the URL ends at the first non-ASCII character
  (``https://youtu.be/<id>الفيديو``). Whitespace (also no-break space) and all
  punctuation outside RFC 3986 end a URL, e.g. Arabic ``، ؛ ؟ ۔`` and quotation
  marks ``« » “ ”``; trailing ``.,;:!?'"*``
  and unbalanced closing brackets are dropped (balanced ``(…)`` stay);
  a second ``http(s)://`` glued to a URL starts a new one unless it follows
  ``=`` or ``/`` (a redirect parameter, an archive URL);
- zero-width and bidi controls anywhere are ignored (and stripped from
  ``raw_url`` and labels); e-mail addresses are not links;
- every ``url`` is accepted by ``preserver.ingest.targets.canonical_target``, but
  one: a URL written with its scheme and longer than ``MAX_URL_LENGTH`` is kept, so
  that ingest reports it as skipped and why; another candidate it rejects
  (``http://`` alone, a bad host) is not a link; ``target`` is what it gave
  (``None`` for that long URL), so ingest need not ask again;
- the label is the nearest *numbered entry* line (``5- name``, ``101 – name``,
  ``67-name``, ``5.``/``5)``, Arabic-Indic digits) or *heading* line (Markdown
  ``#``, or a short line ending with ``:``) at or above the link, whichever is
  closer; otherwise the first eight words of the link's paragraph, else the raw
  URL. Labels are whitespace-normalized, URLs and a trailing colon removed, at
  most 200 characters.

A table (CSV, XLSX) is read with ``tables=ReportText.tables``, the line each table
(each sheet) begins on: from the first, each line is one row, written
``label<TAB>cells…``. A row's links take its label cell (the text before
the first tab) when that holds words; else the row's own entry or heading; else its
first eight words (a row is an item of its own); else, for a row of links alone, the
nearest entry or heading above it in its table.

Lines are the items of ``text.split("\\n")``, numbered from 1; offsets are
0-based indexes into ``text``. Work is linear in the text's length.
``iter_links(text)`` yields the same citations one at a time, holding one line
at once, so a report of a million links is never a million objects.

>>> [(f.line, f.label, f.url) for f in extract_links("5- سمير\\nyoutu.be/u7qI99N8OM8")]
[(2, '5- سمير', 'https://youtu.be/u7qI99N8OM8')]
"""

from __future__ import annotations

import logging
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from preserver.errors import InvalidURL
from preserver.ingest.targets import MAX_URL_LENGTH, TargetKey, canonical_target
from workers import cited_hosts, platform_host

__all__ = ["FoundLink", "extract_links", "iter_links"]

logger = logging.getLogger(__name__)

MAX_LABEL = 200
_PARAGRAPH_WORDS = 8

# Zero-width and bidi controls: U+200B..U+200F, U+202A..U+202E, U+2066..U+2069,
# U+FEFF, plus the Arabic letter mark U+061C, word joiner U+2060, soft hyphen U+00AD.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u061c\u2060\u00ad]+")
# A platform host cited without a scheme (workers.platforms): a domain that
# covers its subdomains may have up to four labels before it.
_BARE_HOSTS = "|".join(
    (r"(?:[a-z0-9-]{1,63}\.){0,4}" if row.subdomains else "") + re.escape(row.domain)
    for row in cited_hosts()
)
_START = re.compile(
    r"(?i:https?://)"
    r"|(?<![A-Za-z0-9_.@/-])(?i:www\.)(?=[A-Za-z0-9-]{1,63}\.[A-Za-z])"
    rf"|(?<![A-Za-z0-9_.@/-])(?i:{_BARE_HOSTS})(?=/)"
)
_BODY = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
# _BODY plus every letter and digit (``\w`` is exactly str.isalnum() and "_");
# marks (category M*), which ``\w`` lacks, are stepped over in _wide_end.
_WIDE_BODY = re.compile(r"[\w\-.~:/?#\[\]@!$&'()*+,;=%]*")
_AUTHORITY_END = re.compile(r"[/?#]")
_EMBEDDED = re.compile(r"(?i:https?://)")
_TRAILING = ".,;:!?'\"*([{"
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_DIGIT = "0-9\u0660-\u0669\u06f0-\u06f9"
_ENTRY = re.compile(rf"\s*[{_DIGIT}]{{1,4}}\s*[-\u2013\u2014.)]\s*(?=[^\s{_DIGIT}])")
_MD_HEADING = re.compile(r" {0,3}#{1,6}[ \t]")
_MAX_HEADING = 120
_EMPTY_BRACKETS = re.compile(r"<\s*>|\(\s*\)|\[\s*\]|\"\s*\"")  # left where a URL was cut out
_TIME = re.compile(r"(?:(\d{1,5})h)?(?:(\d{1,6})m)?(?:(\d{1,9})s?)?")


@dataclass(frozen=True, kw_only=True)
class FoundLink:
    """One citation of a URL in a report's text."""

    line: int  # 1-based line in the text
    offset: int  # 0-based character offset in the text where raw_url starts
    raw_url: str  # as written, invisible controls and trailing punctuation removed
    url: str  # absolute: "https://" added when the report wrote no scheme
    label: str  # the evidence item it belongs to
    start_seconds: int | None  # from t= / start= / #t= (69, 69s, 1m9s, 1h2m3s)
    # canonical_target(url), found on the way; None for a URL too long to be a target
    target: TargetKey | None = None


@dataclass(frozen=True)
class _Line:
    text: str  # invisible controls removed
    origin: int  # offset of the line in the original text
    shifts: tuple[int, ...]  # per removed control, the offset in ``text`` it stood at
    links: tuple[tuple[int, int, str, TargetKey | None], ...]  # (start, end, url, target)

    def offset(self, position: int) -> int:
        """The original text's offset of ``text[position]``."""
        return self.origin + position + bisect_right(self.shifts, position)


def extract_links(text: str, *, tables: tuple[int, ...] = ()) -> list[FoundLink]:
    """All citations in ``text``, in document order (see the module docstring)."""
    return list(iter_links(text, tables=tables))


def iter_links(text: str, *, tables: tuple[int, ...] = ()) -> Iterator[FoundLink]:
    """``extract_links`` one citation at a time: what is held at once is one line (and
    the label it is under), not the text's lines or its links."""
    current: str | None = None  # label of the nearest entry or heading above
    paragraph = 0  # offset in ``text`` of the first line of the current paragraph
    paragraph_label: str | None = None
    looked = False  # for the paragraph's label: once per paragraph, found or not
    starts = iter(tables)
    rows, table = bool(tables), next(starts, 0)  # the line the next table begins on
    for index, line in enumerate(_lines(text, 0)):
        if index + 1 == table:  # a table (a sheet) begins: no label above it
            current, table = None, next(starts, 0)
        if not line.text.strip():
            paragraph, looked = line.origin + len(line.text) + len(line.shifts) + 1, False
            continue
        own = _entry_or_heading(line)
        if own is not None:
            current = own
        if not line.links:
            continue
        label = own or current
        if rows:  # a table row: its label cell, its entry, its words, else the one above
            tab = line.text.find("\t")
            cell = _label(_without_links(line, min(tab, 4 * MAX_LABEL))) if tab >= 0 else ""
            words = _label(" ".join(_without_links(line).split()[:_PARAGRAPH_WORDS]))
            label = cell or own or words or current
        elif label is None:
            if not looked:
                paragraph_label, looked = _paragraph_label(text, paragraph), True
            label = paragraph_label
        for begin, end, url, target in line.links:
            raw = line.text[begin:end]
            yield FoundLink(line=index + 1, offset=line.offset(begin), raw_url=raw, url=url,
                            label=label or raw, start_seconds=_start_seconds(url),
                            target=target)


def _lines(text: str, start: int) -> Iterator[_Line]:
    """The lines of ``text`` from offset ``start`` (a line's first character) on."""
    while True:
        end = text.find("\n", start)
        raw = text[start:] if end < 0 else text[start:end]
        cleaned, shifts = _strip_invisible(raw)
        yield _Line(cleaned, start, shifts, tuple(_find_urls(cleaned)))
        if end < 0:
            return
        start = end + 1


def _strip_invisible(text: str) -> tuple[str, tuple[int, ...]]:
    """Text without invisible controls, and where its offsets shift (see ``_Line.offset``).

    ``shifts`` holds, per removed character, the cleaned offset it stood at; a
    cleaned offset ``c`` is original offset ``c + bisect_right(shifts, c)``.
    """
    if _INVISIBLE.search(text) is None:
        return text, ()  # the common case: nothing to strip
    shifts: list[int] = []
    removed = 0
    for match in _INVISIBLE.finditer(text):
        width = match.end() - match.start()
        shifts.extend([match.start() - removed] * width)
        removed += width
    return _INVISIBLE.sub("", text), tuple(shifts)


def _find_urls(line: str) -> list[tuple[int, int, str, TargetKey | None]]:
    out: list[tuple[int, int, str, TargetKey | None]] = []
    # Where a glued "http(s)://" starts a new URL. Each URL ends there at the
    # latest, so no URL is scanned past it and the work stays linear.
    glued = [
        m.start() for m in _EMBEDDED.finditer(line) if m.start() and line[m.start() - 1] not in "=/"
    ]
    pos = 0
    while (match := _START.search(line, pos)) is not None:
        begin = match.start()
        next_glued = bisect_right(glued, begin)
        limit = glued[next_glued] if next_glued < len(glued) else len(line)
        body = _BODY.match(line, begin, limit)
        body_end = max(body.end() if body else begin, match.end())
        host_start = match.end() if match.group().endswith("://") else begin
        body_end = _wide_end(line, host_start, body_end, limit)
        pos = max(body_end, match.end())
        raw = _trim(line[begin:body_end])
        scheme, sep, rest = raw.partition("://")
        url = scheme.lower() + sep + rest if sep else "https://" + raw
        target: TargetKey | None = None
        try:
            target = canonical_target(url)
        except InvalidURL as exc:
            if not (sep and len(url) > MAX_URL_LENGTH):
                logger.debug("not a link: %.80r", raw, exc_info=exc)
                continue
            # a cited link, only too long to capture: kept, so ingest says it skipped it
        out.append((begin, begin + len(raw), url, target))
    return out


def _wide_end(line: str, host_start: int, body_end: int, limit: int) -> int:
    """Where the URL whose ASCII part is ``line[…:body_end]`` ends, non-ASCII included.

    ``host_start`` is where the host (or userinfo) starts, after any
    ``scheme://``; the URL ends at ``limit`` at the latest. Non-ASCII counts
    only after the path, query or fragment has started, and only on hosts
    other than YouTube's and Facebook's.
    """
    if body_end >= limit or line[body_end].isascii():
        return body_end  # nothing non-ASCII glued on: the common case
    delimiter = _AUTHORITY_END.search(line, host_start, body_end)
    if delimiter is None:
        return body_end  # a bare host: Arabic glued to it is not part of it
    authority = line[host_start : delimiter.start()]
    host = authority.rpartition("@")[2].partition(":")[0].rstrip(".").lower()
    row = platform_host(host)
    if row is not None and row.cited:
        return body_end
    end = delimiter.start()
    while True:
        wide = _WIDE_BODY.match(line, end, limit)
        end = wide.end() if wide else end
        if end < limit and unicodedata.category(line[end]).startswith("M"):
            end += 1  # a combining mark (Arabic harakat); letters and digits are in \w
            continue
        return end


def _trim(raw: str) -> str:
    """Drop trailing punctuation and unbalanced closing brackets."""
    balance = {close: raw.count(close) - raw.count(open_) for close, open_ in _CLOSERS.items()}
    end = len(raw)
    while end:
        last = raw[end - 1]
        if last in _TRAILING:
            if last in _OPENERS:
                balance[_OPENERS[last]] += 1
        elif last in balance and balance[last] > 0:
            balance[last] -= 1
        else:
            break
        end -= 1
    return raw[:end]


def _entry_or_heading(line: _Line) -> str | None:
    """The label this line starts, if it is a numbered entry or a heading."""
    text = line.text
    if _ENTRY.match(text):
        return _label(_without_links(line))
    if _MD_HEADING.match(text):
        return _label(_without_links(line).strip().strip("#")) or None
    stripped = text.strip()
    if not line.links and len(stripped) <= _MAX_HEADING and stripped.endswith((":", "\uff1a")):
        return _label(stripped) or None
    return None


def _without_links(line: _Line, limit: int = 4 * MAX_LABEL) -> str:
    """The line's text with its URLs cut out, from its first ``limit`` characters."""
    pieces: list[str] = []
    pos = 0
    for begin, end, _url, _target in line.links:
        if pos >= limit:
            break
        pieces.append(line.text[pos : min(begin, limit)])
        pos = end
    if pos < limit:
        pieces.append(line.text[pos:limit])
    return " ".join(pieces)


def _label(text: str) -> str:
    label = " ".join(_EMPTY_BRACKETS.sub(" ", text).split()).rstrip(":\uff1a ").strip()
    if len(label) > MAX_LABEL:
        label = label[: MAX_LABEL - 1].rstrip() + "…"
    return label


def _paragraph_label(text: str, first: int) -> str | None:
    """The first words of the paragraph whose first line starts at offset ``first``."""
    words: list[str] = []
    for line in _lines(text, first):
        if not line.text.strip():
            break
        words.extend(_without_links(line).split()[: _PARAGRAPH_WORDS - len(words)])
        if len(words) >= _PARAGRAPH_WORDS:
            break
    return _label(" ".join(words)) or None


def _start_seconds(url: str) -> int | None:
    """Seconds from ``t=``/``start=`` in the query, or ``t=`` in the fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    for source, names in ((parts.query, ("t", "start")), (parts.fragment, ("t",))):
        for field in re.split(r"[&;]", source):
            name, _, value = field.partition("=")
            if name in names and value:
                return _seconds(value)
    return None


def _seconds(value: str) -> int | None:
    match = _TIME.fullmatch(value.lower())
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds
