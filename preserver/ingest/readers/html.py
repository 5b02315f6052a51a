"""HTML reports (``.html``, ``.htm``) as plain text that keeps every link.

Uses the stdlib ``html.parser``. Promised:

- the document's text, each block element (``p``, ``div``, ``li``, ``tr``, …) on
  its own line, paragraphs separated by a blank line, whitespace collapsed
  except in ``pre``; character references decoded;
- headings ``h1``..``h6`` become Markdown heading lines (``## text``), so they
  label the links below them as in a Markdown report;
- an ``<a href>`` to an absolute http(s) or protocol-relative URL is written
  after its text as ``text <url>`` unless the text already shows the URL, so a
  link is extracted even when its text is "video"; ``iframe``/``embed``/
  ``video``/``audio``/``source`` ``src`` URLs (embedded players) get a line;
- ``script``, ``style``, ``noscript``, ``template`` and ``svg`` content is dropped.

The bytes are decoded as a browser decodes them (``_encoding.decode_any``): a byte
order mark, else the charset a ``<meta>`` in the first 1024 bytes declares
(``_prescan``), else UTF-8, else what a detector finds (windows-1256, ISO-8859-6,
UTF-16 without a BOM, …). The encoding used is recorded in ``ReportText.encoding``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from preserver.errors import InvalidReport
from preserver.ingest.readers._base import Extracted, Reader, head_text
from preserver.ingest.readers._encoding import decode_any
from preserver.ingest.readers._prescan import declared_charset

_SKIP = frozenset({"script", "style", "noscript", "template", "svg"})
_PARAGRAPH = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "dl", "fieldset", "figure",
        "footer", "form", "header", "hr", "main", "nav", "ol", "p", "pre", "section",
        "table", "title", "ul",
    }
)  # fmt: skip
_LINE = frozenset({"br", "caption", "dd", "div", "dt", "figcaption", "li", "tr"})
_CELL = frozenset({"td", "th"})
_HEADING = {f"h{n}": n for n in range(1, 7)}
_EMBED = frozenset({"iframe", "embed", "video", "audio", "source"})
_LONE_LT = re.compile(r"<(?![A-Za-z/!?])")
_MARK = "\x1f"  # a line of its own marks a paragraph break
_BREAK = f"\n{_MARK}\n"
_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_SNIFF = re.compile(
    r"\s*(?:<!doctype\s+html|<html|<head|<body|<meta|<title|<!--|<p[\s>])", re.IGNORECASE
)
_SCHEME = re.compile(r"(?i)^https?://(?:www\.)?")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0
        self._pre = 0
        self._anchors: list[tuple[str | None, int]] = []  # (href, len(out) at <a>)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "a":
            self._anchors.append((_absolute(dict(attrs).get("href")), len(self.out)))
        elif tag in _EMBED:
            src = _absolute(dict(attrs).get("src"))
            if src and not self._skip:
                self.out.append(f"\n<{src}>\n")
        self._block(tag, opening=True)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP or tag == "a":  # <script/>, <a/>: nothing opens
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._anchors:
            href, start = self._anchors.pop()
            shown = _SPACE.sub("", "".join(self.out[start:]))
            if href and _SCHEME.sub("", href).rstrip("/") not in shown and not self._skip:
                self.out.append(f" <{href}>")
        self._block(tag, opening=False)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            data = data.replace(_MARK, "")
            self.out.append(data if self._pre else _SPACE.sub(" ", data))

    def _block(self, tag: str, *, opening: bool) -> None:
        if tag == "pre":
            self._pre = self._pre + 1 if opening else max(0, self._pre - 1)
        if tag in _HEADING:
            self.out.append(_BREAK + "#" * _HEADING[tag] + " " if opening else _BREAK)
        elif tag in _PARAGRAPH:
            self.out.append(_BREAK)
        elif tag in _LINE:
            self.out.append("\n")
        elif tag in _CELL and not opening:
            self.out.append("\t")


def _absolute(url: str | None) -> str | None:
    """An absolute http(s) URL from an attribute, or None (relative, mailto:, …)."""
    if not url:
        return None
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    if not re.match(r"(?i)https?://[^\s<>]+$", url):
        return None
    return url


def html_to_text(source: str) -> str:
    """HTML source -> plain text (see the module docstring)."""
    # html.parser rescans to the end of the input for every "<" that no ">"
    # follows (quadratic: a hostile 1 MB "</</…" takes minutes), and is slow on
    # each "<" that opens nothing. Neither can open a tag, so each is escaped to
    # the text the parser would make of it anyway.
    last = source.rfind(">")
    source = _LONE_LT.sub("&lt;", source[: last + 1]) + source[last + 1 :].replace("<", "&lt;")
    parser = _TextParser()
    try:
        parser.feed(source)
        parser.close()
    except (AssertionError, ValueError) as exc:  # the parser's own complaints
        raise InvalidReport(f"cannot parse the HTML: {exc}") from exc
    kept: list[str] = []
    for line in "".join(parser.out).split("\n"):
        line = line.strip(" \t")
        if line == _MARK:
            if kept and kept[-1]:  # at most one blank line in a row
                kept.append("")
        elif line:
            kept.append(line)
    return "\n".join(kept).strip("\n")


def _extract(data: bytes) -> Extracted:
    meta = declared_charset(data)
    decoded = decode_any(data, declared=meta.encoding if meta else None,
                         declared_as=f'"{meta.label}" in a <meta>' if meta else "")
    return Extracted(text=html_to_text(decoded.text), encoding=decoded.encoding)


def _sniff(head: bytes) -> bool:
    return bool(_SNIFF.match(head_text(head).lstrip("\ufeff")))


READER = Reader(
    media_type="text/html",
    extensions=frozenset({".html", ".htm", ".xhtml"}),
    sniff=_sniff,
    extract=_extract,
)
