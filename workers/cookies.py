"""Reading an access's cookies file (Netscape format): the session both yt-dlp and httpx send.

docs/design.md "Network and safety": a session is the cookies of a (throwaway) account,
exported by a browser extension or by ``yt-dlp --cookies`` as a Netscape cookies file
(curl's format, https://curl.se/docs/http-cookies.html)::

    # Netscape HTTP Cookie File
    .example.org	TRUE	/	TRUE	1893456000	session	8f3c…
    #HttpOnly_www.example.org	FALSE	/	FALSE	0	csrf	d41d…

Seven tab-separated fields: domain, include subdomains, path, https only, expiry (Unix
seconds; ``0`` or empty for a browser-session cookie), name, value. ``#HttpOnly_``
before the domain marks an HttpOnly cookie; other ``#`` lines and blank lines are
comments.

``read_cookies`` reads the file afresh at every call (the run calls it once per capture,
so a file replaced between captures is used from the next one), reads at most
``MAX_BYTES``, and only reads: the operator's file is never written, copied or moved.
Expired cookies are left out. Every fault is one ``CookiesFileError`` line naming the
fault and the line number, never a line's text: the file holds the account's secrets.

    >>> cookies = read_cookies(Path("/secrets/fb-cookies.txt"))
    >>> jar.set_cookie(cookies[0])   # an http.cookiejar.Cookie
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from http.cookiejar import Cookie
from pathlib import Path

from workers.errors import CookiesFileError

__all__ = ["MAX_BYTES", "read_cookies"]

MAX_BYTES = 10 << 20  # 10 MiB: a browser's whole cookie jar is a few MB
_FIELDS = 7
_NOT_NETSCAPE = "not a Netscape-format cookies file"
_HEADER = re.compile(r"#( Netscape)? HTTP Cookie File")  # as http.cookiejar.MozillaCookieJar
_HTTPONLY = "#HttpOnly_"
_FLAGS = {"TRUE": True, "FALSE": False}
_EXPIRES = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,9})?")
# What may go into a Cookie header: printable ASCII, no separator that would end the pair.
_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}")
_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e]{0,4096}")  # printable, no space, no ";"
_DOMAIN = re.compile(r"\.?[A-Za-z0-9_]([A-Za-z0-9_.\-]{0,252}[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\]")
_PATH = re.compile(r"/[\x21-\x3a\x3c-\x7e]{0,1024}")


def read_cookies(path: Path, *, now: float | None = None) -> tuple[Cookie, ...]:
    """The cookies of ``path`` still valid at ``now`` (default: this moment).

    Raises ``CookiesFileError`` for a file that is missing, unreadable, not a regular
    file, over ``MAX_BYTES``, not UTF-8 text, not in Netscape format, with a bad line,
    or with no cookie left once the expired ones are dropped.
    """
    text = _text(path)
    cookies = _parse(text)
    moment = time.time() if now is None else now
    live = tuple(c for c in cookies if not c.is_expired(int(moment)))
    if not live:
        raise CookiesFileError("every cookie in it has expired: export the session again")
    return live


def _text(path: Path) -> str:
    """The file's text, read once and bounded; only reading (never a write, never a copy)."""
    try:
        # O_NONBLOCK: a FIFO put in the file's place must not hang the capture
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise CookiesFileError("not found") from exc
    except PermissionError as exc:
        raise CookiesFileError("not readable (permission denied)") from exc
    except OSError as exc:
        raise CookiesFileError(f"unreadable ({exc.strerror or type(exc).__name__})") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CookiesFileError("not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise CookiesFileError(f"unreadable ({exc.strerror or type(exc).__name__})") from exc
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    if len(data) > MAX_BYTES:
        raise CookiesFileError(f"larger than {MAX_BYTES >> 20} MiB: not a session's cookies file")
    if not data.strip():
        raise CookiesFileError("empty: holds no cookie")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise CookiesFileError(f"line {line} is not UTF-8 text: {_NOT_NETSCAPE}") from exc
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise CookiesFileError(f"line {line} is not text (a NUL byte): {_NOT_NETSCAPE}")
    return text.removeprefix("\ufeff")


def _parse(text: str) -> list[Cookie]:
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if text.lstrip()[:1] in ("[", "{"):
        raise CookiesFileError(f"a JSON cookie export, {_NOT_NETSCAPE}: export the cookies "
                               "as cookies.txt (# Netscape HTTP Cookie File)")
    if not _HEADER.search(first):
        raise CookiesFileError(f"{_NOT_NETSCAPE}: its first line must be "
                               "'# Netscape HTTP Cookie File'")
    cookies: list[Cookie] = []
    for number, line in enumerate(lines[1:], start=2):
        http_only = line.startswith(_HTTPONLY)
        if http_only:
            line = line[len(_HTTPONLY):]
        elif line.startswith("#") or not line.strip():
            continue
        cookies.append(_cookie(line.split("\t"), number, http_only=http_only))
    if not cookies:
        raise CookiesFileError(f"holds no cookie: {_NOT_NETSCAPE}")
    return cookies


def _cookie(fields: list[str], number: int, *, http_only: bool) -> Cookie:
    """One line's cookie; a fault names the line and the field, never their text."""
    where = f"line {number}"
    if len(fields) != _FIELDS:
        raise CookiesFileError(f"{where} has {len(fields)} tab-separated fields, not "
                               f"{_FIELDS}: {_NOT_NETSCAPE}")
    domain, subdomains, path, secure, expires, name, value = fields
    checks = (
        (_DOMAIN.fullmatch(domain), "the domain is not a host name"),
        (subdomains in _FLAGS, "the include-subdomains field is not TRUE or FALSE"),
        (_PATH.fullmatch(path), "the path does not start with / or holds a space or ;"),
        (secure in _FLAGS, "the https-only field is not TRUE or FALSE"),
        (expires == "" or _EXPIRES.fullmatch(expires), "the expiry is not a number of seconds"),
        (_NAME.fullmatch(name), "the cookie's name is empty or not a token"),
        (_VALUE.fullmatch(value), "the cookie's value is not printable ASCII without ;"),
    )
    for ok, fault in checks:
        if not ok:
            raise CookiesFileError(f"{where}: {fault}")
    expiry = int(float(expires)) if expires else 0
    session = expiry == 0  # a browser-session cookie: sent, never expires here
    return Cookie(
        version=0, name=name, value=value, port=None, port_specified=False,
        domain=domain.lower(), domain_specified=_FLAGS[subdomains],
        domain_initial_dot=domain.startswith("."), path=path, path_specified=True,
        secure=_FLAGS[secure], expires=None if session else expiry, discard=session,
        comment=None, comment_url=None, rest={"HttpOnly": ""} if http_only else {},
    )
