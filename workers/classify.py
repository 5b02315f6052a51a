"""Turn a yt-dlp failure into an availability status.

The statuses are the contract list of docs/design.md "Availability statuses".

yt-dlp reports every failure as a ``DownloadError`` whose ``exc_info[1]`` is
the innermost cause: an ``ExtractorError`` carrying the platform's own words
(YouTube's ``playabilityStatus.reason``, Facebook's interstitial), an
``HTTPError`` with a status code, or a ``TransportError``. Platforms give no
machine-readable reason, so the platform's text is matched (case-insensitively,
with U+2019 folded to ``'`` and HTML entities unescaped) against the texts
collected in ``docs/yt-dlp.md`` "Message rules". The first rule that matches wins.

Choices where the contract leaves room (each is inconclusive unless stated):

- Facebook's ``The link you followed may have expired, or the page may only be
  visible to an audience you're not in`` is shown both for deleted posts and
  for audience-restricted ones: ``UNKNOWN``, not transient (retrying soon will
  not change it; the audit re-checks), with Facebook's words kept.
- Bot walls (YouTube's ``Sign in to confirm you're not a bot``, ``This content
  isn't available, try again later``, a captcha, ``Your IP is likely being
  blocked``) are ``BOT_CHECK``, transient, ``wall=True``; a rate limit without a
  wall (``rate-limited``, HTTP 429) stays ``RATE_LIMITED``.
- Login walls (Facebook's ``only available for registered users``, ``You must
  log in to continue``, a bare ``Sign in``) are ``LOGIN_REQUIRED``, transient,
  ``wall=True``: what we were shown, not what the link is (the same words appear
  for deleted videos), so an audit treats them as inconclusive and a capture
  retries them. HTTP 401/407 stay plain ``LOGIN_REQUIRED`` (restricted).
- HTTP 403 from a site is as often a bot wall, hot-link rule or expired signed
  URL as a real refusal: ``UNKNOWN``, transient. Other 4xx (400, 405, 451, ...)
  are ``UNKNOWN`` and not transient; 408 is ``ERROR``, transient.
- ``This live event will begin ...``/``Premieres in ...``: ``UNKNOWN``, transient.
- A bare ``Video unavailable`` or ``This content isn't available`` (seen under
  rate-limiting too): ``UNKNOWN``, transient.
- An unexpected extractor error (``please report this issue``, ``Cannot parse
  data``) means the extractor is broken for this page: ``ERROR``, not transient.
- ``UnsupportedError`` (no extractor found media): ``UNKNOWN`` with
  ``no_media=True``; the media worker decides what that means for the target.
- A failure of this machine, not of the link (``local_failure``: the work
  directory's disk is full, over quota, read-only, failing, or not ours to
  write): ``ERROR``, transient, ``local=True``. The capture is not kept and the
  job waits until the operator has made room.

The message keeps the platform's words and drops yt-dlp's additions: the
``ERROR:`` and ``[youtube] ID:`` prefixes, the bug-report tail, ``(caused by
...)`` chains and how-to hints (cookies, VPN, ``-t sleep``).

    >>> from yt_dlp.utils import ExtractorError
    >>> c = classify(ExtractorError("Private video. Sign in if you've been granted access", expected=True))
    >>> c.status.value, c.transient
    ('private', False)
"""

from __future__ import annotations

import errno
import html
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from workers.errors import AddressRefused
from workers.types import Status
from workers.userinfo import without_userinfo

__all__ = ["Classified", "classify", "local_failure", "platform_message"]


@dataclass(frozen=True, kw_only=True)
class Classified:
    """What a failure means for the link."""

    status: Status
    message: str  # the platform's own words, yt-dlp's prefixes and hints removed
    transient: bool  # worth retrying later (network, 5xx, 429, bot checks, timeouts)
    # a wall stood between us and the link (a bot check, a login wall): says nothing about
    # the link itself (docs/design.md "Walls")
    wall: bool = False
    no_media: bool = False  # yt-dlp found no media at this URL (UnsupportedError)
    local: bool = False  # this machine failed (disk full, read-only, I/O error): not the link


# docs/yt-dlp.md "Message rules", in order: first match wins.
# (pattern, status, transient, wall)
_RULES: tuple[tuple[str, Status, bool, bool], ...] = (
    (r"removed for violating|terms of service|community guidelines", Status.REMOVED_POLICY, False,
     False),
    (r"has been terminated", Status.ACCOUNT_TERMINATED, False, False),
    (r"copyright claim", Status.REMOVED_COPYRIGHT, False, False),
    (r"copyright grounds|available in your country|from your location", Status.GEO_BLOCKED, False,
     False),
    (r"removed by the (?:uploader|user)|uploader has closed their", Status.REMOVED_UPLOADER, False,
     False),
    (r"private video|video is private", Status.PRIVATE, False, False),
    (r"members-only|members on level|join this channel", Status.MEMBERS_ONLY, False, False),
    (r"not a bot|captcha|ip is likely being blocked|content isn't available, try again later",
     Status.BOT_CHECK, True, True),
    (r"rate-limited", Status.RATE_LIMITED, True, False),
    (r"confirm your age|age-restricted|inappropriate", Status.AGE_RESTRICTED, False, False),
    (r"live event will begin|premieres? in", Status.UNKNOWN, True, False),
    (r"facebook said", Status.UNKNOWN, False, False),
    (r"registered users|you must log in|log in to continue|sign in", Status.LOGIN_REQUIRED, True,
     True),
    (r"^video unavailable|^this video is unavailable|content isn't available", Status.UNKNOWN, True,
     False),
)
_COMPILED = tuple((re.compile(rx, re.IGNORECASE), st, tr, w) for rx, st, tr, w in _RULES)

_PREFIX = re.compile(r"^(?:ERROR:\s*)?(?:\[[^\]\s]+\]\s+(?:\S+?:\s+)?)?")
_TAILS = (
    # yt-dlp's bug-report request (ExtractorError with expected=False, unsafe extension)
    re.compile(r"[;.,]?\s*(?:If you believe this is an error,\s*)?please report this issue.*$",
               re.IGNORECASE | re.DOTALL),
    re.compile(r"\s*\(caused by .*$", re.DOTALL),
    re.compile(r"\.?\s*Use --cookies.*$", re.DOTALL),  # login hints
    re.compile(r"\s*You might want to use a VPN.*$", re.DOTALL),  # geo hint
    re.compile(r"\.?\s*(?:Your account|The current session) has been rate-limited by YouTube.*$",
               re.DOTALL),
)


def _normalize(text: str) -> str:
    return html.unescape(text).replace("\u2019", "'").replace("\u2018", "'")


def _body(text: str) -> str:
    """The message without yt-dlp's ``ERROR: [ie] id:`` prefix."""
    return _PREFIX.sub("", _normalize(text).strip(), count=1)


def platform_message(exc: BaseException) -> str:
    """The platform's words from a yt-dlp exception, without yt-dlp's additions."""
    text = _body(str(exc))
    for tail in _TAILS:
        text = tail.sub("", text)
    # yt-dlp appends lines (geo: "This video is available in ..."): make them sentences.
    text = re.sub(r"(?<![.!?:;])\s*\n\s*", ". ", text.strip())
    return without_userinfo(" ".join(text.split()))  # "Unsupported URL: http://u:p@h/…"


def _loaded() -> bool:
    """Is yt-dlp loaded in this process? When it is not (preserver's own process, which
    runs yt-dlp only in capture processes), no exception of its can exist here, and
    nothing of it needs importing to tell one apart."""
    return "yt_dlp.utils" in sys.modules


def _cause(exc: BaseException) -> BaseException:
    if not _loaded():
        return exc
    from yt_dlp.utils import DownloadError

    if isinstance(exc, DownloadError) and exc.exc_info:
        inner = exc.exc_info[1]
        if isinstance(inner, BaseException):
            return inner
    return exc


_REFUSAL = re.compile(r"refused: \S+ is not a public address")


def _chain(exc: BaseException, *, stop: tuple[type[BaseException], ...] = ()) -> Iterator[
        BaseException]:
    """``exc``, the cause yt-dlp recorded, and every exception they were raised from;
    an instance of a ``stop`` type is yielded but not looked into."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc, _cause(exc)]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, stop):
            continue
        stack += [e.__cause__, e.__context__]
        for attr in ("cause", "reason", "orig_error"):  # yt-dlp, urllib3 wrappers
            inner = getattr(e, attr, None)
            if isinstance(inner, BaseException):
                stack.append(inner)


def _refusal(exc: BaseException) -> str | None:
    """The network guard's words, if it refused an address anywhere in this failure."""
    for e in _chain(exc):
        if isinstance(e, AddressRefused):
            return str(e)
    # Wrappers that keep only the text (urllib3's NameResolutionError, yt-dlp's own).
    found = _REFUSAL.search(str(exc))
    return found.group(0) if found else None


# Errors only a filesystem gives: wherever they appear, this machine failed.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
# Errors a file operation or a socket may give: local when a file was named, or when
# raised by a write outside any network error (yt-dlp's "unable to write data").
_FILE_ERRNOS = frozenset({errno.EIO, errno.EACCES})
# ffmpeg (merging, fixing up) reports only its text, which ends in strerror().
_DISK_TEXT = re.compile("|".join(re.escape(os.strerror(n)) for n in sorted(_DISK_ERRNOS)))


def _local_errno(exc: BaseException, *, direct: bool) -> bool:
    if not isinstance(exc, OSError) or isinstance(exc, AddressRefused):
        return False
    if exc.errno in _DISK_ERRNOS:
        return True
    return exc.errno in _FILE_ERRNOS and (exc.filename is not None or direct)


def local_failure(exc: BaseException) -> str | None:
    """Why ``exc`` is this machine's failure and not the link's, or None.

    A full disk (ENOSPC), a quota (EDQUOT) or a read-only filesystem (EROFS)
    anywhere in the chain; EIO or EACCES on a named file, or raised directly by a
    write; ffmpeg's text for the first three, in a post-processing error. Nothing inside a network error
    (``HTTPError``, ``TransportError``) counts: a socket's EACCES is the network's.
    """
    network: tuple[type[BaseException], ...] = ()
    post_processing: tuple[type[BaseException], ...] = ()
    if _loaded():
        from yt_dlp.networking.exceptions import HTTPError, TransportError
        from yt_dlp.utils import PostProcessingError

        network, post_processing = (HTTPError, TransportError), (PostProcessingError,)
    cause = _cause(exc)
    for e in _chain(exc, stop=network):
        if _local_errno(e, direct=e is exc or e is cause):
            return f"{e.strerror or e}" if isinstance(e, OSError) else str(e)
    # Only a post-processor's text: remote text (a reason phrase) must not pass for a full disk.
    found = _DISK_TEXT.search(str(cause)) if isinstance(cause, post_processing) else None
    return found.group(0) if found else None


_BY_CODE: dict[int, tuple[Status, bool]] = {  # (status, transient)
    404: (Status.NOT_FOUND, False), 410: (Status.NOT_FOUND, False),
    401: (Status.LOGIN_REQUIRED, False), 407: (Status.LOGIN_REQUIRED, False),
    # 403 alone cannot tell a login wall from a geo block or a bot check
    403: (Status.UNKNOWN, True), 429: (Status.RATE_LIMITED, True), 408: (Status.ERROR, True),
}


def http_status(code: int) -> tuple[Status, bool]:
    """(status, transient) for an HTTP status code: the one mapping yt-dlp errors and
    page snapshots share."""
    if 200 <= code < 300:
        return Status.AVAILABLE, False
    return _BY_CODE.get(code, (Status.ERROR, True) if code >= 500 else (Status.UNKNOWN, False))


def classify(exc: BaseException) -> Classified:
    """Map a yt-dlp exception (usually a ``DownloadError``) onto a status.

    Never raises: anything unrecognised is ``ERROR`` (not transient).
    """
    from yt_dlp.networking.exceptions import HTTPError, TransportError
    from yt_dlp.utils import (
        DownloadCancelled,
        ExtractorError,
        GeoRestrictedError,
        UnsupportedError,
    )

    cause = _cause(exc)
    message = platform_message(exc)

    def result(status: Status, transient: bool, *, no_media: bool = False) -> Classified:
        return Classified(status=status, message=message, transient=transient, no_media=no_media)

    if (refusal := _refusal(exc)) is not None:
        return Classified(status=Status.ERROR, message=refusal, transient=False)
    if local_failure(exc) is not None:
        return Classified(status=Status.ERROR, message=message, transient=True, local=True)
    if isinstance(cause, GeoRestrictedError):
        return result(Status.GEO_BLOCKED, False)
    if isinstance(cause, UnsupportedError):
        return result(Status.UNKNOWN, False, no_media=True)
    if isinstance(cause, HTTPError):
        return result(*http_status(cause.status))
    if isinstance(cause, TransportError | TimeoutError | ConnectionError):
        return result(Status.ERROR, True)
    if isinstance(cause, DownloadCancelled):
        return result(Status.ERROR, False)

    body = _body(cause.orig_msg if isinstance(cause, ExtractorError) else str(exc))
    for pattern, status, transient, wall in _COMPILED:
        if pattern.search(body):
            return Classified(status=status, message=message, transient=transient, wall=wall)
    if isinstance(cause, ExtractorError) and cause.expected:
        return result(Status.UNKNOWN, False)
    return result(Status.ERROR, False)  # extractor broken, post-processing, disk: not the link's fault
