"""Availability probes against the fixture site: real sockets, real httpx, real yt-dlp children.

YouTube's and Facebook's servers are the one thing stood in for: they cannot
exist offline. The oEmbed endpoint is the fixture site (``oembed_url`` is
configuration), and the yt-dlp step runs the real probe child, which registers
``OfflineYoutubeIE``/``OfflineFacebookIE`` below ahead of yt-dlp's own
extractors (``ProbeSettings.extractors``). They raise the real texts of
docs/yt-dlp.md "Message rules" the way the real extractors do (``raise_no_formats``,
``raise_login_required``), via ``test_classify``'s stub. Facebook's pages for
the page step are served by the fixture site.

Clients allow exactly 127.0.0.1/32, so 127.0.0.2 is refused by the real guard.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.clock import FakeClock
from tests.support.fixture_site import FixtureSite
from tests.support.http_cases import HTTP_CASES
from tests.support.platforms import EXTRACTORS, OK_JSON, OEmbed
from tests.support.wall_pages import NOT_WALLS, WALLS
from workers.limits import RateLimiter
from workers.net import make_client
from workers.probes import (
    FB_GONE_NOTE,
    FB_LOGIN_NOTE,
    ProbeResult,
    ProbeSettings,
    ProbeTarget,
    probe,
)
from workers.types import Limits, Status

LOCAL = ("127.0.0.1/32",)

@pytest.fixture
def oembed(site: FixtureSite) -> OEmbed:
    return OEmbed(site)


@pytest.fixture
def settings(oembed: OEmbed) -> ProbeSettings:
    return ProbeSettings(
        oembed_url=oembed.url,
        limits=Limits(max_bytes=1 << 20, timeout_seconds=20.0, socket_timeout_seconds=5.0),
        allow_networks=LOCAL,
        extractors=EXTRACTORS,
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(allow_private=False, allow_networks=LOCAL, timeout=5.0) as client:
        yield client


def youtube(video_id: str) -> ProbeTarget:
    return ProbeTarget(key=f"youtube:{video_id}", url=f"https://youtu.be/{video_id}",
                       platform="youtube")


# -- YouTube: oEmbed decides alone ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "body", "status", "transient"),
    [
        (200, OK_JSON, Status.AVAILABLE, False),
        (401, b"Unauthorized", Status.AVAILABLE, False),  # embedding disabled: exists
        (403, b"Forbidden", Status.PRIVATE, False),
        (200, b"Forbidden", Status.PRIVATE, False),  # Dec 2020: private served as 200
        (429, b"Too Many Requests", Status.RATE_LIMITED, True),
    ],
)
async def test_oembed_answers_alone(
    oembed: OEmbed, settings: ProbeSettings, http: httpx.AsyncClient,
    code: int, body: bytes, status: Status, transient: bool,
) -> None:
    # Ids the stand-in would call removed: if yt-dlp ran, the status would say so.
    oembed.answers["removedUplr"] = [(code, body)]

    got = await probe(youtube("removedUplr"), http=http, settings=settings)

    assert (got.status, got.http_status, got.probe, got.transient) == (status, code, "oembed",
                                                                       transient)
    assert oembed.asked == ["removedUplr"]


# -- YouTube: oEmbed suspects, yt-dlp gives the reason -----------------------------------


REASONS = [  # (video id, status, transient, words in the message)
    ("removedUplr", Status.REMOVED_UPLOADER, False, "has been removed by the uploader"),
    ("terminatedA", Status.ACCOUNT_TERMINATED, False, "has been terminated"),
    ("privateVidA", Status.PRIVATE, False, "Private video"),
    ("botCheckAAA", Status.BOT_CHECK, True, "not a bot"),
    ("unavailable", Status.UNKNOWN, True, "Video unavailable"),  # alone: stays unknown
    ("playableAAA", Status.AVAILABLE, False, ""),  # oEmbed was wrong: it plays
]
SUSPECT = [(404, b"Not Found", *r) for r in REASONS] + [
    (code, body, *r)
    for code, body in [(400, b"Bad Request"), (500, b"oops"), (200, b"<html>not json</html>")]
    for r in REASONS[::3]
]


@pytest.mark.parametrize(("code", "body", "video_id", "status", "transient", "words"), SUSPECT)
async def test_suspect_oembed_runs_yt_dlp(
    oembed: OEmbed, settings: ProbeSettings, http: httpx.AsyncClient,
    code: int, body: bytes, video_id: str, status: Status, transient: bool, words: str,
) -> None:
    oembed.answers[video_id] = [(code, body)]

    got = await probe(youtube(video_id), http=http, settings=settings)

    assert (got.status, got.http_status, got.probe, got.transient) == (
        status, code, "oembed+yt-dlp", transient)
    assert got.wall is (status is Status.BOT_CHECK)  # a wall: inconclusive, never down
    assert words in got.message
    if words:
        assert got.message.endswith(f"(oEmbed: HTTP {code})")
        assert "--cookies" not in got.message


async def test_unreachable_oembed_still_probes(
    settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the request: nobody listens
    closed = ProbeSettings(oembed_url=f"http://127.0.0.1:{port}/oembed", limits=settings.limits,
                           allow_networks=LOCAL, extractors=settings.extractors)

    got = await probe(youtube("privateVidA"), http=http, settings=closed)

    assert (got.status, got.http_status, got.probe) == (Status.PRIVATE, None, "oembed+yt-dlp")
    assert "ConnectError" in got.message


async def test_flapping_video_is_never_down(
    oembed: OEmbed, settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    oembed.answers["removedUplr"] = [(200, OK_JSON), (429, b"Too Many Requests")]

    got = [await probe(youtube("removedUplr"), http=http, settings=settings) for _ in range(6)]

    assert [r.status for r in got] == [Status.AVAILABLE, Status.RATE_LIMITED] * 3
    assert all(r.status.kind in ("up", "inconclusive") for r in got)


async def test_oembed_429_pauses_the_host(
    oembed: OEmbed, settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    clock = FakeClock()
    rate = RateLimiter(10.0, clock=clock, sleep=clock.sleep)
    oembed.answers["removedUplr"] = [(429, b"Too Many Requests")]

    await probe(youtube("removedUplr"), http=http, settings=settings, rate=rate)

    assert await rate.wait(settings.oembed_url) == 120.0  # the endpoint's Retry-After


# -- Facebook --------------------------------------------------------------------------------

LOGIN_WALL = (b'<html><body><form id="login_form" action="/login/">'
              b"<div>You must log in to continue.</div></form></body></html>")
GONE = ("<html><body><h2>This content isn\u2019t available right now</h2>"
        '<form id="login_form"></form></body></html>').encode()


def facebook(site: FixtureSite, name: str) -> ProbeTarget:
    return ProbeTarget(key=f"facebook:{name}", url=site.url(f"/fb/{name}"), platform="facebook")


async def test_facebook_login_wall_is_ambiguous(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    site.add_bytes("/fb/wall", LOGIN_WALL, "text/html")

    got = await probe(facebook(site, "wall"), http=http, settings=settings)

    assert (got.status, got.http_status, got.probe) == (Status.LOGIN_REQUIRED, 200, "yt-dlp+page")
    assert (got.wall, got.transient) == (True, True)  # what we were shown, not the post
    assert got.message.startswith(FB_LOGIN_NOTE)
    assert "registered users" in got.message


async def test_facebook_content_not_available(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    site.add_bytes("/fb/gone", GONE, "text/html")

    got = await probe(facebook(site, "gone"), http=http, settings=settings)

    assert (got.status, got.http_status, got.transient) == (Status.NOT_FOUND, 200, False)
    assert got.message == f"This content isn't available {FB_GONE_NOTE}"


async def test_facebook_interstitial_says_it_is_ambiguous(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    site.add_bytes("/fb/said", b"<html><body>a page</body></html>", "text/html")

    got = await probe(facebook(site, "said"), http=http, settings=settings)

    assert (got.status, got.transient) == (Status.UNKNOWN, False)
    assert got.message.startswith("The video is not available, Facebook said: \"The link you")
    assert got.message.endswith(FB_GONE_NOTE)


async def test_facebook_page_404_is_not_found(
    settings: ProbeSettings, site: FixtureSite, http: httpx.AsyncClient
) -> None:
    got = await probe(facebook(site, "missing"), http=http, settings=settings)  # no route: 404

    assert (got.status, got.http_status, got.message) == (Status.NOT_FOUND, 404, "HTTP 404")


async def test_facebook_playable_needs_no_page(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    got = await probe(facebook(site, "fine"), http=http, settings=settings)

    assert (got.status, got.probe) == (Status.AVAILABLE, "yt-dlp")
    assert not [h for h in site.hits if h.path.startswith("/fb/")]


async def test_facebook_bot_check_skips_the_page(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    got = await probe(facebook(site, "bot"), http=http, settings=settings)

    assert (got.status, got.probe, got.transient, got.wall) == (Status.BOT_CHECK, "yt-dlp",
                                                                 True, True)
    assert not [h for h in site.hits if h.path.startswith("/fb/")]


# -- web links -------------------------------------------------------------------------------


def web(url: str) -> ProbeTarget:
    return ProbeTarget(key=f"web:{url}", url=url, platform="web")


@pytest.mark.parametrize(("code", "status", "transient"),
                         [(200, Status.AVAILABLE, False), *HTTP_CASES])
async def test_web_status_codes(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient,
    code: int, status: Status, transient: bool,
) -> None:
    url = site.add_bytes("/page", b"<html>x</html>", "text/html", status=code)

    got = await probe(web(url), http=http, settings=settings)

    assert got == ProbeResult(status=status, http_status=code, probe="page", transient=transient,
                              message="" if code == 200 else f"HTTP {code}")


async def test_web_reads_no_more_than_64_kib(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    url = site.add_endless("/endless", "text/html")

    got = await probe(web(url), http=http, settings=settings)

    assert (got.status, got.http_status) == (Status.AVAILABLE, 200)


async def test_web_slow_page_is_a_transient_error(
    site: FixtureSite, settings: ProbeSettings
) -> None:
    url = site.add_slow("/slow", b"<html>" + b" " * 64, "text/html", delay=2.0)

    async with make_client(allow_private=False, allow_networks=LOCAL, timeout=0.3) as http:
        got = await probe(web(url), http=http, settings=settings)

    assert (got.status, got.transient) == (Status.ERROR, True)
    assert got.message.startswith("timed out")


async def test_web_redirect_to_refused_address(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    port = site.url("").rsplit(":", 1)[1]
    url = site.add_redirect("/away", f"http://127.0.0.2:{port}/inside")

    got = await probe(web(url), http=http, settings=settings)

    assert got == ProbeResult(status=Status.ERROR, http_status=None, probe="page",
                              message="refused: 127.0.0.2 is not a public address",
                              transient=False)


@pytest.mark.parametrize("name", sorted(WALLS))
async def test_web_login_wall_is_an_inconclusive_wall(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient, name: str,
) -> None:
    url = site.add_bytes(f"/walled/{name}", WALLS[name], "text/html")

    got = await probe(web(url), http=http, settings=settings)

    assert got == ProbeResult(status=Status.LOGIN_REQUIRED, http_status=200, probe="page",
                              transient=True, wall=True,
                              message="wall (login): the page is a login form")


async def test_web_redirect_to_a_login_page_is_a_wall(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient
) -> None:
    site.add_bytes("/login", b"<html><body>Sign in</body></html>", "text/html")
    url = site.add_redirect("/members/post", site.url("/login?next=/members/post"))

    got = await probe(web(url), http=http, settings=settings)

    assert (got.status, got.wall, got.message) == (
        Status.LOGIN_REQUIRED, True, "wall (login): redirected to a login page (/login)")


@pytest.mark.parametrize("name", sorted(NOT_WALLS))
async def test_web_pages_that_only_look_like_walls_are_up(
    site: FixtureSite, settings: ProbeSettings, http: httpx.AsyncClient, name: str,
) -> None:
    url = site.add_bytes(f"/page/{name}", NOT_WALLS[name], "text/html")

    got = await probe(web(url), http=http, settings=settings)

    assert (got.status, got.wall) == (Status.AVAILABLE, False)
