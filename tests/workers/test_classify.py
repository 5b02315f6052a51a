"""Classification of yt-dlp failures into availability statuses.

YouTube's and Facebook's servers are the one thing mocked here: they cannot
exist offline. A stub extractor named ``youtube``/``facebook`` is registered
on a real ``yt_dlp.YoutubeDL`` and raises each message collected in
docs/yt-dlp.md "Message rules" the way the real extractor does (``raise_no_formats``
after the same sign-in/captcha/rate-limit rewriting as
``extractor/youtube/_video.py``, ``raise_geo_restricted``,
``raise_login_required``, an unexpected ``ExtractorError``), so the
``DownloadError`` that reaches ``classify`` has exactly the shape of a live
failure: ``ERROR: [youtube] <id>: ...`` with yt-dlp's hints and tails.

Everything else is real: HTTP errors come from the fixture site through
yt-dlp's generic extractor over real sockets, the refused connection from a
closed port on 127.0.0.1, the guard refusal from ``_netguard`` wrapping the
real resolver.
"""

from __future__ import annotations

import errno
import html
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from yt_dlp import YoutubeDL
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import (
    DownloadCancelled,
    DownloadError,
    ExtractorError,
    PostProcessingError,
    YoutubeDLError,
)

from tests.support.fixture_site import FixtureSite
from tests.support.http_cases import HTTP_CASES
from tests.support.platforms import (
    FB_EXPIRED,
    FB_SAID,
    PRIVATE,
    RSQ,
    YT_BOT,
    YT_TERMINATED,
    StubFacebookIE,
    StubIE,
    StubYoutubeIE,
)
from workers import _netguard
from workers.classify import Classified, classify, local_failure, platform_message
from workers.types import Status


class _QuietLogger:
    def debug(self, msg: str) -> None: ...
    def info(self, msg: str) -> None: ...
    def warning(self, msg: str) -> None: ...
    def error(self, msg: str) -> None: ...


def _ydl(**params: Any) -> YoutubeDL:
    return YoutubeDL({"quiet": True, "logger": _QuietLogger(), "retries": 0, **params})


def _fail(
    url: str,
    *,
    ie: InfoExtractor | None = None,
    expect: type[YoutubeDLError] = DownloadError,
    match: str = r"^ERROR: ",
    **params: Any,
) -> YoutubeDLError:
    with _ydl(**params) as ydl:
        if ie is not None:
            ydl.add_info_extractor(ie)
        with pytest.raises(expect, match=match) as info:
            ydl.extract_info(url, download=False, ie_key=ie.ie_key() if ie else None)
    error = info.value
    # yt-dlp keeps the error response open inside the HTTPError; close it here
    # rather than leave it to the garbage collector (ResourceWarning).
    cause = error.exc_info[1] if isinstance(error, DownloadError) and error.exc_info else None
    if isinstance(cause, HTTPError):
        cause.response.close()
    return error


# -- the message table (docs/yt-dlp.md "Message rules") ---------------------------------

FB_EXPIRED_WORDS = html.unescape(FB_EXPIRED)
YT_UNAVAILABLE_RATE = "This content isn't available, try again later."

YT_CLOSED = (
    "This video is no longer available because the uploader has closed their YouTube account."
)
YT_COPYRIGHT = (
    "Video unavailable. This video is no longer available due to a copyright claim by"
    " Syndicated Music Group"
)
YT_COPYRIGHT_REGION = (
    "Video unavailable. This video contains content from Syndicated Music Group, who has"
    " blocked it in your country on copyright grounds"
)
YT_AGE = "Sign in to confirm your age. This video may be inappropriate for some users"
YT_GEO = "The uploader has not made this video available in your country"
YT_MEMBERS = (
    "Join this channel to get access to members-only content like this video, and other"
    " exclusive perks."
)
YT_MEMBERS_APP = (
    "Join this channel from your computer or Android app to get access to members-only"
    " content like this video."
)
YT_MEMBERS_LEVEL = (
    "This video is available to this channel's members on level: Gold (or any higher level)."
    f" {YT_MEMBERS}"
)
YT_IP_BLOCKED = "All player responses are invalid. Your IP is likely being blocked by Youtube"
YT_NO_FORMAT = (
    "Requested format is not available. Use --list-formats for a list of available formats"
)
YT_RATE_LIMITED = "Too many requests from this client: rate-limited, no wall shown"
FB_LOG_IN = "You must log in to continue."
FB_EXPIRED_RSQ = FB_EXPIRED.replace("&#039;", RSQ)
TOS = "This video has been removed for violating YouTube's Terms of Service"
HATE = "This video has been removed for violating YouTube's policy on hate speech."

# (platform, how, text, status, transient, expected message or "" for the text itself)
TABLE: list[tuple[str, str, str, Status, bool, str]] = [
    ("youtube", "reason", "Video unavailable. This video has been removed by the uploader",
     Status.REMOVED_UPLOADER, False, ""),
    ("youtube", "reason", "This video has been removed by the user", Status.REMOVED_UPLOADER,
     False, ""),
    ("youtube", "reason", YT_CLOSED, Status.REMOVED_UPLOADER, False, ""),
    ("youtube", "reason", TOS, Status.REMOVED_POLICY, False, ""),
    ("youtube", "reason", TOS.replace("'", RSQ), Status.REMOVED_POLICY, False, TOS),
    ("youtube", "reason", HATE, Status.REMOVED_POLICY, False, ""),
    ("youtube", "reason", YT_TERMINATED, Status.ACCOUNT_TERMINATED, False, ""),
    ("youtube", "reason", YT_COPYRIGHT, Status.REMOVED_COPYRIGHT, False, ""),
    ("youtube", "reason", YT_COPYRIGHT_REGION, Status.GEO_BLOCKED, False, ""),
    ("youtube", "reason", PRIVATE, Status.PRIVATE, False, ""),
    ("youtube", "reason", PRIVATE.replace("'", RSQ), Status.PRIVATE, False, PRIVATE),
    ("youtube", "reason", "This video is private", Status.PRIVATE, False, ""),
    ("youtube", "reason", YT_AGE, Status.AGE_RESTRICTED, False, ""),
    ("youtube", "reason", YT_BOT, Status.BOT_CHECK, True, "Sign in to confirm you're not a bot"),
    ("youtube", "geo", YT_GEO, Status.GEO_BLOCKED, False,
     f"{YT_GEO}. This video is available in Germany, France."),
    ("youtube", "reason", f"Video unavailable. {YT_GEO}", Status.GEO_BLOCKED, False, ""),
    ("youtube", "reason", YT_MEMBERS, Status.MEMBERS_ONLY, False, ""),
    ("youtube", "reason", YT_MEMBERS_APP, Status.MEMBERS_ONLY, False, ""),
    ("youtube", "reason", YT_MEMBERS_LEVEL, Status.MEMBERS_ONLY, False, ""),
    ("youtube", "reason", "This live event will begin in 2 days.", Status.UNKNOWN, True, ""),
    ("youtube", "reason", "Premieres in 6 hours", Status.UNKNOWN, True, ""),
    ("youtube", "reason", "Video unavailable", Status.UNKNOWN, True, ""),
    ("youtube", "reason", f"Video unavailable. This content isn{RSQ}t available.",
     Status.UNKNOWN, True, "Video unavailable. This content isn't available."),
    ("youtube", "reason", YT_UNAVAILABLE_RATE, Status.BOT_CHECK, True,
     "This content isn't available, try again later"),
    ("youtube", "captcha", "Video unavailable", Status.BOT_CHECK, True,
     "Video unavailable. YouTube is requiring a captcha challenge before playback"),
    ("youtube", "plain", YT_IP_BLOCKED, Status.BOT_CHECK, True, ""),
    ("youtube", "plain", YT_RATE_LIMITED, Status.RATE_LIMITED, True, ""),
    ("youtube", "plain", "This video is DRM protected", Status.UNKNOWN, False, ""),
    ("youtube", "plain", YT_NO_FORMAT, Status.UNKNOWN, False, ""),
    ("facebook", "plain", FB_SAID.format(FB_EXPIRED), Status.UNKNOWN, False,
     FB_SAID.format(FB_EXPIRED_WORDS)),
    ("facebook", "plain", FB_SAID.format(FB_EXPIRED_RSQ), Status.UNKNOWN, False,
     FB_SAID.format(FB_EXPIRED_WORDS)),
    ("facebook", "login", "", Status.LOGIN_REQUIRED, True,
     "This video is only available for registered users"),
    ("facebook", "plain", FB_LOG_IN, Status.LOGIN_REQUIRED, True, ""),
    ("facebook", "unexpected", "Cannot parse data", Status.ERROR, False, "Cannot parse data"),
]


@pytest.fixture
def stub_cases() -> Iterator[dict[str, tuple[str, str]]]:
    cases: dict[str, tuple[str, str]] = {}
    StubIE.CASES = cases
    yield cases
    StubIE.CASES = {}


@pytest.mark.parametrize(
    ("platform", "how", "text", "status", "transient", "message"),
    TABLE,
    ids=[f"{row[0]}-{row[3].value}-{i}" for i, row in enumerate(TABLE)],
)
def test_platform_message_maps_to_status(
    stub_cases: dict[str, tuple[str, str]],
    platform: str, how: str, text: str, status: Status, transient: bool, message: str,
) -> None:
    stub_cases["dQw4w9WgXcQ"] = (how, text)
    ie = StubYoutubeIE() if platform == "youtube" else StubFacebookIE()
    error = _fail(f"stub-{platform}:dQw4w9WgXcQ", ie=ie)
    assert str(error).startswith(f"ERROR: [{platform}] dQw4w9WgXcQ: ")

    got = classify(error)

    expected_message = message or text.replace(RSQ, "'")
    wall = status in (Status.BOT_CHECK, Status.LOGIN_REQUIRED)  # a wall, never the link's answer
    assert got == Classified(status=status, message=expected_message, transient=transient,
                             wall=wall)


def test_message_drops_yt_dlp_hints_and_tails(stub_cases: dict[str, tuple[str, str]]) -> None:
    stub_cases["abc"] = ("unexpected", "Cannot parse data")
    raw = str(_fail("stub-facebook:abc", ie=StubFacebookIE()))
    assert "please report this issue" in raw

    assert platform_message(_fail("stub-facebook:abc", ie=StubFacebookIE())) == "Cannot parse data"
    stub_cases["abc"] = ("login", "")
    assert "--cookies" in str(_fail("stub-facebook:abc", ie=StubFacebookIE()))
    assert "--cookies" not in classify(_fail("stub-facebook:abc", ie=StubFacebookIE())).message


# -- real HTTP through the generic extractor ----------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [*HTTP_CASES],
)
def test_http_status_from_fixture_site(
    site: FixtureSite, code: int, status: Status, transient: bool
) -> None:
    url = site.add_bytes("/gone", b"<html>no</html>", "text/html", status=code)

    got = classify(_fail(url))

    assert (got.status, got.transient) == (status, transient)
    assert got.message.startswith(f"Unable to download webpage: HTTP Error {code}")


def test_refused_connection_is_transient_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the request: nobody listens

    got = classify(_fail(f"http://127.0.0.1:{port}/video"))

    assert (got.status, got.transient) == (Status.ERROR, True)
    assert "refused" in got.message.lower()


def test_read_timeout_is_transient_error(site: FixtureSite) -> None:
    url = site.add_slow("/slow.html", b"<html>" + b" " * 64, "text/html", delay=2.0)

    # The generic extractor reads the page's first bytes outside yt-dlp's error
    # wrapping, so this TransportError arrives bare, not as a DownloadError.
    got = classify(_fail(url, expect=TransportError, match="Read timed out", socket_timeout=0.3))

    assert (got.status, got.transient) == (Status.ERROR, True)
    assert "timed out" in got.message.lower()


def test_guard_refusal_is_permanent_error(
    site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    guarded = _netguard._guarded(socket.getaddrinfo, False, ())
    monkeypatch.setattr(socket, "getaddrinfo", guarded)

    got = classify(_fail(site.url("/anything")))

    assert got == Classified(
        status=Status.ERROR, message="refused: 127.0.0.1 is not a public address", transient=False
    )


def test_no_media_page_is_flagged(site: FixtureSite) -> None:
    url = site.add_bytes("/plain.html", b"<html><body>text only</body></html>", "text/html")

    got = classify(_fail(url))

    assert got.no_media
    assert got.message == f"Unsupported URL: {url}"


# -- exceptions that are not DownloadErrors ------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status", "transient", "message"),
    [
        (ExtractorError("Private video", expected=True), Status.PRIVATE, False, "Private video"),
        (ExtractorError("Unable to extract player"), Status.ERROR, False, "Unable to extract player"),
        (DownloadCancelled("larger than the limit of 5 bytes"), Status.ERROR, False,
         "larger than the limit of 5 bytes"),
        (TimeoutError("timed out"), Status.ERROR, True, "timed out"),
        (DownloadError("ERROR: something odd"), Status.ERROR, False, "something odd"),
    ],
)
def test_other_exceptions(exc: BaseException, status: Status, transient: bool, message: str) -> None:
    assert classify(exc) == Classified(status=status, message=message, transient=transient)


# -- this machine's failures: a full, read-only or failing disk is not the link's answer ----


def _download_error(message: str, cause: BaseException) -> DownloadError:
    """The ``DownloadError`` yt-dlp's ``report_error`` raises inside ``except cause``."""
    return DownloadError(f"ERROR: {message}", (type(cause), cause, None))


def _socket_refused() -> TransportError:
    error = TransportError("Unable to connect")
    error.__cause__ = PermissionError(errno.EACCES, "Permission denied")  # a socket's, no file
    return error


@pytest.mark.parametrize(
    ("exc", "why"),
    [
        (_download_error("unable to write data: [Errno 28] No space left on device",
                         OSError(errno.ENOSPC, "No space left on device")),
         "No space left on device"),
        (_download_error("Cannot write video metadata to JSON file x.info.json",
                         OSError(errno.EDQUOT, "Disk quota exceeded", "x.info.json")),
         "Disk quota exceeded"),
        (OSError(errno.EROFS, "Read-only file system", "/archive/tmp/job-1/x.jpg"),
         "Read-only file system"),
        (_download_error("unable to write data: [Errno 5] Input/output error",
                         OSError(errno.EIO, "Input/output error")), "Input/output error"),
        (PermissionError(errno.EACCES, "Permission denied", "/archive/tmp/job-1/x.part"),
         "Permission denied"),
        (_download_error("Postprocessing: Conversion failed!", PostProcessingError(
            "[out#0/mp4] Error writing trailer: No space left on device")),
         "No space left on device"),
    ],
    ids=["enospc-write", "edquot-infojson", "erofs", "eio-write", "eacces-file", "ffmpeg"],
)
def test_local_failures(exc: BaseException, why: str) -> None:
    assert local_failure(exc) == why
    got = classify(exc)
    assert (got.status, got.transient, got.local) == (Status.ERROR, True, True)


@pytest.mark.parametrize(
    "exc",
    [
        _download_error("Unable to connect", _socket_refused()),  # the network's EACCES
        ExtractorError("No space left on device", expected=True),  # remote words
        _download_error("[generic] x: No space left on device",
                        ExtractorError("No space left on device")),
        _download_error("Postprocessing: Conversion failed!", PostProcessingError("bad codec")),
        ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    ],
    ids=["socket-eacces", "extractor-text", "extractor-cause", "ffmpeg-other", "refused"],
)
def test_not_local_failures(exc: BaseException) -> None:
    assert local_failure(exc) is None
    assert not classify(exc).local
