"""URLs that a PDF's layout wrapped over lines, joined back (``_pdf_layout``).

A line ending in a URL is joined with the next line of its block when that line
begins with URL characters (its *start*) that do not begin a URL of their own, and
the URL ends in ``/ - _ = ? & # % ~``, or the start holds ``/ _ = ? & # % ~``, or
letters and digits both (``u7qI99``), or is the whole line and holds a digit, ``.``
or ``-`` (``port.html``, ``99875426``): ``https://www.example.or`` +
``g/a/report.html`` is one URL, while a URL at a line's end followed by another URL,
a numbered entry (``6- name``), a number (``2015 was``), a word (``Al-Nusra``,
``U.S.``) or a sentence after its full stop is not glued to it. Where a link
annotation shows its URL going on at the next line (it covers both pieces), the line
is joined whatever the text says.

The rule reads only text, which cannot always tell a URL's rest from the next line's
first word (``…/90205`` + ``4899875426 and more`` against ``…/x`` + ``2015 was``): it
errs towards leaving a line alone, since a wrong join corrupts a URL and takes the
next line's entry number (its label) with it.
"""

from __future__ import annotations

import re

_URL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
_URL_PREFIX = re.compile(r"https?://|www\.")
_NEW_URL = re.compile(r"(?i:https?://|www\.)")
_URL_START = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_OPEN_END = frozenset("/-_=?&#%~")  # a URL ending in one goes on
_IN_URL = frozenset("/_=?&#%~")  # characters that words and numbers do not hold


def join_wrapped_urls(lines: list[str], wrapped: set[int]) -> list[str]:
    """Each URL the layout wrapped over lines joined back (see the module docstring):
    after a line in ``wrapped`` (a link annotation shows its URL going on) always, else
    as ``_continues`` decides; linear in the text."""
    out: list[str] = []
    open_url = known = False  # does out[-1] end in a URL; does a link show it goes on?
    for index, line in enumerate(lines):
        if open_url and line:
            start = _URL_START.match(line)
            if start and (known or _continues(out[-1], start.group(),
                                               line[start.end():].strip())):
                out[-1] += start.group()
                line = line[start.end():].strip()
                known = index in wrapped
                if not line:
                    continue
        out.append(line)
        open_url, known = _ends_in_url(line), index in wrapped
    return out


def _ends_in_url(line: str) -> bool:
    run = line[len(line.rstrip(_URL_CHARS)):]  # the URL characters it ends with
    prefix = _URL_PREFIX.search(run)
    return prefix is not None and prefix.end() < len(run)


def _continues(url_line: str, start: str, rest: str) -> bool:
    """Is ``start`` (the URL characters a line begins with, ``rest`` after them) the rest
    of the URL that ends ``url_line``?"""
    if _NEW_URL.match(start):
        return False  # a URL of its own: a list of URLs, one a line
    if url_line[-1] in _OPEN_END or any(c in _IN_URL for c in start):
        return True
    digits = any(c.isdigit() for c in start)
    if digits and any(c.isalpha() for c in start):
        return True  # an id: u7qI99N8OM8
    return not rest and (digits or "." in start or "-" in start)
