"""How a reader writes a link whose URL the text does not show: ``words <url>``.

Shared by the DOCX, CSV and XLSX readers, and written as the HTML reader writes an
``<a href>``, so that the link finder (``preserver.ingest.links``) finds the URL even
behind words such as "شاهد الفيديو", and the words stay in the text to label it.
"""

from __future__ import annotations

import re

_SCHEME = re.compile(r"(?i)^https?://(?:www\.)?")
_SPACE = re.compile(r"\s+")
_WEB = re.compile(r"(?i)https?://[^\s<>\"]+")
# the first argument of a HYPERLINK function (Excel) or field code (Word): "url", the
# whole of it (then a switch, the next argument or the end), not a string that a
# formula goes on to join to a cell: HYPERLINK("https://x.com/"&B2, B2)
_HYPERLINK = re.compile(r'(?is)^\s*=?\s*HYPERLINK\s*\(?\s*(?:"([^"]*)"|([^\s"\\,()][^\s",()]*))'
                        r'(?=\s*(?:[,;)\\]|$))')


def web_url(url: str | None) -> str | None:
    """An absolute http(s) URL (protocol-relative ``//host`` becomes https), or None for
    anything else: relative, ``mailto:``, ``file:``, a bookmark in the document."""
    if not url:
        return None
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    return url if _WEB.fullmatch(url) else None


def hyperlink_url(code: str) -> str | None:
    """The URL of a ``HYPERLINK "url" \\o "tip"`` field code or ``=HYPERLINK("url","text")``
    formula when its first argument is a literal http(s) URL; None otherwise (a bookmark
    ``\\l``, a URL computed from other cells)."""
    match = _HYPERLINK.match(code)
    if match is None:
        return None
    return web_url(match.group(1) if match.group(1) is not None else match.group(2))


def shows(shown: str, url: str) -> bool:
    """Do the words ``shown`` already show ``url`` (scheme, ``www.`` and a final ``/`` aside)?"""
    return _SCHEME.sub("", url).rstrip("/") in _SPACE.sub("", shown)


def linked(shown: str, url: str | None) -> str:
    """``shown`` with `` <url>`` after it unless it shows the URL (or there is none)."""
    if url is None or shows(shown, url):
        return shown
    return f"{shown} <{url}>" if shown.strip() else f"<{url}>"
