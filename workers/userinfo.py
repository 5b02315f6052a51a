"""Credentials in URLs (``user:password@``) are never stored (docs/design.md "Network and safety").

A redirect may lead to ``http://admin:hunter2@host/…``; httpx and yt-dlp follow it
(sending the credentials as ``Authorization``, which is removed wherever it is
recorded) and then record the URL they reached. Everything that writes a URL into
the archive passes it through here first: WARC record and HTTP headers
(``workers._warc``), yt-dlp's info JSON (``workers._media_files``), the metadata
and final URL of a ``CaptureResult`` (``workers.capture``), and the manifest
(``preserver.capture.record``).

    >>> without_userinfo("http://admin:hunter2@example.org/a?b#c")
    'http://example.org/a?b#c'
    >>> without_userinfo('<//u:p@example.org/x>; rel="next"')
    '<//example.org/x>; rel="next"'
    >>> scrub_userinfo({"webpage_url": "http://u:p@h/", "webpage_url_domain": "u:p@h"})
    {'webpage_url': 'http://h/', 'webpage_url_domain': 'h'}

Only the userinfo goes; the rest of each string is kept as it was written.
"""

from __future__ import annotations

import re
from typing import TypeVar

__all__ = ["redact_userinfo", "scrub_userinfo", "without_userinfo"]

T = TypeVar("T")

# RFC 3986 section 3.2.1: userinfo is what precedes "@" in the authority, which
# follows "//" and ends at "/", "?", "#" (or the end). A scheme is optional, so a
# protocol-relative reference (an HTML href, a Location header) counts too. The
# userinfo runs to the authority's *last* "@", as httpx and urllib.parse.urlsplit
# read it: http://admin:p@ss@host/ sends the password "p@ss" to host, so the greedy
# group takes "@" too and backtracks to the last one before the authority ends.
_USERINFO_CHARS = r"A-Za-z0-9\-._~%!$&'()*+,;=:"  # unreserved, pct-encoded, sub-delims, ":"
_USERINFO = re.compile(r"(?i)((?:\b[a-z][a-z0-9+.\-]*:)?//)([^\s/?#\[\]<>\"\\]*)@")


def redact_userinfo(url: str) -> str:
    """``url`` with its credentials replaced by ``***``: what may be shown of a proxy (its
    host and port name it; its password never shows).

    Everything between the scheme and the *last* ``@`` goes, without reading ``url`` as
    a URL: a password with an unencoded ``/``, ``?`` or ``#`` ends a URL's authority
    early, leaving the rest of the password in its path, and text without its scheme
    has no authority at all; both would show the password if only the authority were
    redacted.

    >>> redact_userinfo("socks5://u:p@10.0.0.9:1080")
    'socks5://***@10.0.0.9:1080'
    >>> redact_userinfo("http://u:pa/ss@proxy.example:3128")
    'http://***@proxy.example:3128'
    >>> redact_userinfo("u:pass@proxy.example:3128")
    '***@proxy.example:3128'
    """
    if "@" not in url:
        return url
    scheme, sep, _ = url.partition("://")
    prefix = scheme + sep if sep and "@" not in scheme else ""
    return prefix + "***@" + url.rpartition("@")[2]


def without_userinfo(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it removed."""
    return _USERINFO.sub(r"\1", text) if "@" in text else text


def _credentials(value: object, found: set[str]) -> None:
    """The userinfo of every string in ``value`` that is a URL (or starts with one)."""
    if isinstance(value, str):
        match = _USERINFO.match(value)
        if match and match.group(2):
            found.add(match.group(2) + "@")
    elif isinstance(value, dict):
        for item in value.values():
            _credentials(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _credentials(item, found)


def _replaced(value: object, secrets: re.Pattern[str]) -> object:
    if isinstance(value, str):
        return secrets.sub("", value) if "@" in value else value
    if isinstance(value, dict):
        return {key: _replaced(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_replaced(item, secrets) for item in value)
    return value


def scrub_userinfo(value: T) -> T:
    """``value`` (JSON-like: dicts, lists, strings) without the credentials of its URLs.

    The userinfo of every string value that is a URL (``webpage_url``,
    ``formats[].url``, ``http_headers.Referer``, fragments …) is collected, then
    removed, with its ``@``, from every string value: yt-dlp derives fields from
    URLs (``webpage_url_domain`` is ``user:password@host``). Other text, such as
    a description that quotes some other URL with a password, is the platform's
    content and kept.
    """
    found: set[str] = set()
    _credentials(value, found)
    if not found:
        return value
    # Whole userinfo only: not preceded by a character that may be part of one, so
    # the secret "a@" leaves "data@example.org" alone. Longest first.
    alternatives = "|".join(re.escape(s) for s in sorted(found, key=len, reverse=True))
    secrets = re.compile(rf"(?<![{_USERINFO_CHARS}])(?:{alternatives})")
    return _replaced(value, secrets)  # type: ignore[return-value]
