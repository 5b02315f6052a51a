"""Is this page a login wall? A small, bounded reading of a fetched page.

A wall is what stood between us and the link, not an answer about it
(docs/design.md "Walls"): a capture that meets one keeps the wall's page as
evidence of the wall, never as the post, and retries later; an audit records it
as inconclusive. Bot walls come from yt-dlp's words (``classify``); this module
reads pages, for the login walls yt-dlp does not name.

The rules, in order; the first that holds names the wall:

1. **Redirected to a login page**: the final URL's path has a segment ``login``,
   ``log-in``, ``signin``, ``sign-in``, ``sign_in`` or ``login.php`` (with or
   without ``.html``/``.php``), and the requested URL's path did not. Facebook's
   ``/login/?next=...`` and most sites' ``/accounts/login`` are this.
2. **Facebook's login page** (a ``facebook`` target only): its form
   ``id="login_form"`` or the words ``You must log in to continue`` — the two
   markers yt-dlp's own Facebook extractor looks for.
3. **A page that is a password form**: a ``<form>`` holding an
   ``<input type="password">``, on a page with little else to read (fewer than
   ``TEXT_WORDS`` words of text, not counting scripts and styles; the form's own
   labels count, so a page that one form wraps whole, as ASP.NET's do, is judged
   by its text too). A page that only *mentions* logging in, a search form, or an
   article with a small login box in its sidebar has no password field or plenty
   of its own text, and is not a wall. A login form that scripts draw without a
   ``<form>`` is not seen here; a ``facebook`` target's rendered DOM is read too.

Bounds: at most ``MAX_BYTES`` of the body are read (a compressed body is
inflated up to that much, ``gzip`` and ``deflate`` only; another coding is not
read), by a small linear scanner (``_read``) that never raises on malformed
HTML. A huge page is therefore judged by its first 256 KiB.

    >>> login_wall(b'<form><input type="password" name="pw"></form>', url="https://e.org/post/1")
    'the page is a login form'
    >>> login_wall(b'<p>Please log in to comment.</p>', url="https://e.org/post/1") is None
    True
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["MAX_BYTES", "TEXT_WORDS", "inflate", "login_wall"]

MAX_BYTES = 256 * 1024  # of the body read; the rest of a longer page is not looked at
TEXT_WORDS = 200  # a password form on a page with fewer words than this is the page

_LOGIN_SEGMENT = re.compile(r"(?:log-?in|sign[-_]?in)(?:\.php|\.html?)?", re.IGNORECASE)
_FB_MARKERS = re.compile(r"id\s*=\s*[\"']login_form[\"']|you must log in to continue",
                         re.IGNORECASE)


def _login_path(url: str | None) -> bool:
    if not url:
        return False
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return any(_LOGIN_SEGMENT.fullmatch(segment) for segment in path.split("/"))


# No two ``\s*`` side by side with only an optional character between them: the engine
# would try every split of a run of spaces between the two (quadratic in a tag's length).
_TAG_NAME = re.compile(r"\s*(?:(/)\s*)?([a-zA-Z][a-zA-Z0-9:-]{0,31})")
_PASSWORD = re.compile(r"\btype\s*=\s*(?:[\"']\s*)?password\b", re.IGNORECASE)
_SKIP = frozenset({"script", "style", "noscript", "template", "textarea"})


@dataclass
class _Reading:
    """What ``_read`` saw: words of text (scripts, styles and the like left out); a
    password field inside a form."""

    words: int = 0
    password_form: bool = False


def _read(text: str) -> _Reading:
    """One pass over ``text`` with ``str.find``, never backtracking: linear in its length
    whatever the markup (Python's ``html.parser`` is quadratic on some broken inputs,
    such as ``<a <a <a …``). Tags are ``<…>``, comments ``<!--…-->``; an unclosed ``<``
    ends the reading."""
    seen, open_tags, forms = _Reading(), dict.fromkeys(_SKIP, 0), 0
    i, n = 0, len(text)
    while i < n:
        lt = text.find("<", i)
        if not any(open_tags.values()):
            seen.words += len(text[i:n if lt < 0 else lt].split())
        if lt < 0:
            break
        if text.startswith("<!--", lt):
            end = text.find("-->", lt + 4)
            i = n if end < 0 else end + 3
            continue
        gt = text.find(">", lt + 1)
        if gt < 0:
            break
        tag, i = text[lt + 1:gt], gt + 1
        if (m := _TAG_NAME.match(tag)) is None:
            continue
        closing, name = m.group(1) is not None, m.group(2).lower()
        if name in open_tags:
            open_tags[name] = max(0, open_tags[name] + (-1 if closing else 1))
        elif name == "form":
            forms = max(0, forms + (-1 if closing else 1))
        elif name == "input" and forms and _PASSWORD.search(tag):
            seen.password_form = True
    return seen


def inflate(body: bytes, content_encoding: str | None) -> bytes | None:
    """The first ``MAX_BYTES`` of ``body`` as the server meant it, or None when its
    coding is one we do not read (or it is broken)."""
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body[:MAX_BYTES]
    if coding not in ("gzip", "x-gzip", "deflate"):
        return None
    wbits = 16 + zlib.MAX_WBITS if "gzip" in coding else zlib.MAX_WBITS
    try:
        return zlib.decompressobj(wbits).decompress(body, MAX_BYTES)
    except zlib.error:
        if coding == "deflate":  # raw deflate, as some servers send it
            try:
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(body, MAX_BYTES)
            except zlib.error:
                return None
        return None


def login_wall(body: bytes, *, url: str, final_url: str | None = None,
               platform: str = "web") -> str | None:
    """Why the page fetched for ``url`` (ending at ``final_url``) is a login wall, or None.

    ``body`` is the (decoded) page; only its first ``MAX_BYTES`` are read.
    """
    # (1) a redirect to a login page
    if final_url and _login_path(final_url) and not _login_path(url):
        return f"redirected to a login page ({urlsplit(final_url).path})"
    text = body[:MAX_BYTES].decode("utf-8", "replace")
    # (2) Facebook's own login page, where the post should be
    if platform == "facebook" and (found := _FB_MARKERS.search(text)):
        return f"Facebook shows its login page ({found.group(0)})"
    # (3) a page that is a password form and little else
    seen = _read(text)
    if seen.password_form and seen.words < TEXT_WORDS:
        return "the page is a login form"
    return None
