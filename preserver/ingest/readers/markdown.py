"""Markdown reports (``.md``, ``.markdown``) as plain text that keeps every link.

Promised: line structure is kept (one output line per input line), headings
keep their ``#`` so they label the links below them, ``[text](url)`` and
``![alt](url)`` become ``text <url>`` (just ``url`` when the text is the URL or
empty), ``<url>`` autolinks become ``url``. Everything else is left as written.
"""

from __future__ import annotations

import re

from preserver.ingest.readers._base import Reader, decode_text, head_text

# [text](url "title"): one level of balanced parentheses in the URL (Wikipedia);
# bounded repeats keep this linear on hostile input.
_INLINE = re.compile(
    r"!?\[(?P<text>[^\[\]\n]{0,1000})\]\(\s*<?"
    r"(?P<url>[^\s()<>]{1,8192}(?:\([^\s()<>]{0,8192}\)[^\s()<>]{0,8192})?)"
    r">?(?:\s+(?:\"[^\"\n]{0,1000}\"|'[^'\n]{0,1000}'))?\s*\)"
)
_AUTOLINK = re.compile(r"<((?i:https?)://[^\s<>]{1,8192})>")
_SNIFF = re.compile(r"^#{1,6} |\]\((?i:https?)://|^\s*[-*] \[", re.MULTILINE)


def markdown_to_text(text: str) -> str:
    """Markdown source -> plain text (see the module docstring)."""
    text = _AUTOLINK.sub(r"\1", text)
    return _INLINE.sub(_inline, _INLINE.sub(_inline, text))  # twice: [![alt](img)](url)


def _inline(match: re.Match[str]) -> str:
    label, url = match.group("text").strip(), match.group("url")
    return url if not label or label == url else f"{label} <{url}>"


def _extract(data: bytes) -> str:
    return markdown_to_text(decode_text(data))


def _sniff(head: bytes) -> bool:
    return not head.startswith(b"<") and bool(_SNIFF.search(head_text(head)))


READER = Reader(
    media_type="text/markdown",
    extensions=frozenset({".md", ".markdown"}),
    sniff=_sniff,
    extract=_extract,
)
