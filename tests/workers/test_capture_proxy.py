"""capture() with a proxy: every part through it, or only after the platform blocked a
direct try (``proxy_on_failure_only``), and the manifest's ``access`` record.

Real yt-dlp, httpx, Chromium (in the browser test) and blob store against the fixture
site, through a real forward proxy on loopback (tests/support/proxy.py). The proxy
connects onwards from 127.0.0.2; the walled routes here answer 403/429 to anyone else,
as a platform answers a server's address and serves a residential proxy's.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from storage.local import LocalBlobStore
from tests.support.browser import CHROMIUM, browser_settings
from tests.support.fixture_site import FixtureSite, Media, html_page, send, video_tag_page
from tests.support.jobs import capture_job
from tests.support.proxy import ForwardProxy
from tests.support.walls import add_login_wall
from workers.access import Access
from workers.browser import Browser
from workers.capture import blocked, capture
from workers.media import MediaOutcome
from workers.net import make_client
from workers.page import PageOutcome
from workers.types import CaptureState, Status

LOCAL = ("127.0.0.1/32",)
PASSWORD = "s3cret-proxy-pw"
Proxies = Callable[..., ForwardProxy]


@pytest.fixture
def proxy(proxies: Proxies) -> ForwardProxy:
    return proxies(username="operator", password=PASSWORD)


@pytest.fixture
async def direct() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(allow_private=False, allow_networks=LOCAL, timeout=5.0) as c:
        yield c


@pytest.fixture
async def proxied(proxy: ForwardProxy) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(allow_private=False, allow_networks=LOCAL, timeout=5.0,
                           proxy=proxy.url) as c:
        yield c




def walled(body: bytes, content_type: str, *, code: int = 403) -> Callable[
        [BaseHTTPRequestHandler], None]:
    """A route that serves ``body`` to the proxy's address only, ``code`` to anyone else."""
    def handler(req: BaseHTTPRequestHandler) -> None:
        if req.client_address[0] == "127.0.0.2":
            send(req, 200, body, content_type)
        else:
            send(req, code, b"<html><body>blocked</body></html>", "text/html")
    return handler


def stored(store: LocalBlobStore, sha256: str) -> bytes:
    with store.open(sha256) as blob:
        return blob.read()


@pytest.mark.slow
async def test_with_a_proxy_every_part_goes_through_it(
    tmp_path: Path, site: FixtureSite, media: Media, store: LocalBlobStore,
    proxy: ForwardProxy, proxied: httpx.AsyncClient
) -> None:
    site.add_file("/clip.mp4", media.mp4, "video/mp4")
    url = site.add_bytes("/post", video_tag_page("/clip.mp4"), "text/html")
    access = Access(group="127.0.0.1", label="proxy-de", proxy=proxy.url)

    result = await capture(capture_job(tmp_path, url, access=access), store, proxied)

    assert result.state is CaptureState.COMPLETE, result.message
    assert {h.client for h in site.hits} == {"127.0.0.2"}  # page snapshot and media alike
    assert proxy.hits("127.0.0.1") >= 2
    assert result.collection["access"] == {"label": "proxy-de", "session": False, "proxy": True}
    for f in result.files:
        assert PASSWORD.encode() not in stored(store, f.sha256), f.name
        assert b"operator" not in stored(store, f.sha256), f.name


@pytest.mark.slow
async def test_failure_only_goes_direct_when_not_blocked(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, proxy: ForwardProxy,
    direct: httpx.AsyncClient, proxied: httpx.AsyncClient
) -> None:
    url = site.add_bytes("/open", html_page(body="<p>open to all</p>"), "text/html")
    access = Access(group="127.0.0.1", proxy=proxy.url, proxy_on_failure_only=True)

    result = await capture(capture_job(tmp_path, url, access=access), store, direct, proxied_http=proxied)

    assert result.state is CaptureState.COMPLETE, result.message
    assert proxy.connections == 0 and {h.client for h in site.hits} == {"127.0.0.1"}
    assert result.collection["access"] == {"label": "", "session": False, "proxy": False}


@pytest.mark.slow
@pytest.mark.parametrize("code", [403, 429])
async def test_failure_only_uses_the_proxy_after_a_blocked_direct_try(
    code: int, tmp_path: Path, site: FixtureSite, media: Media, store: LocalBlobStore,
    proxy: ForwardProxy, direct: httpx.AsyncClient, proxied: httpx.AsyncClient
) -> None:
    site.add("/clip.mp4", walled(media.mp4.read_bytes(), "video/mp4", code=code))
    url = site.add("/post", walled(video_tag_page("/clip.mp4"), "text/html", code=code))
    access = Access(group="127.0.0.1", label="fallback", proxy=proxy.url,
                    proxy_on_failure_only=True)

    result = await capture(capture_job(tmp_path, url, access=access), store, direct, proxied_http=proxied)

    assert result.state is CaptureState.COMPLETE, result.message
    clients = [h.client for h in site.hits]
    assert clients[0] == "127.0.0.1" and clients[-1] == "127.0.0.2"
    assert "127.0.0.1" not in clients[clients.index("127.0.0.2"):]  # once blocked, proxied only
    record = result.collection["access"]
    assert record["proxy"] is True and record["proxy_after_blocked_direct"] is True
    assert record["label"] == "fallback"
    assert record["blocked_direct_attempt"]["page_http_status"] == code
    (mp4,) = [f for f in result.files if f.role == "media"]
    assert stored(store, mp4.sha256) == media.mp4.read_bytes()
    (page,) = [f for f in result.files if f.role == "page"]
    assert b"blocked</body>" not in stored(store, page.sha256)  # the direct try is not kept
    assert result.collection["page"]["http_status"] == 200


def _page(code: int | None) -> PageOutcome:
    return PageOutcome(status=Status.AVAILABLE if code == 200 else Status.UNKNOWN, message="",
                       transient=False, http_status=code, final_url=None, content_type=None,
                       body_bytes=0, truncated=False)


def _media(status: Status, *, captured: bool = False) -> MediaOutcome:
    from workers.media import MediaFile

    files = (MediaFile(path=Path("x.mp4"), role="media", media_type="video/mp4"),) \
        if captured else ()
    return MediaOutcome(status=status, message="", transient=False, files=files, metadata={},
                        resolved_url=None, no_media=False)


@pytest.mark.parametrize(("page", "media", "expected"), [
    (200, Status.BOT_CHECK, True), (200, Status.RATE_LIMITED, True),
    (200, Status.LOGIN_REQUIRED, True), (200, Status.GEO_BLOCKED, True),
    (403, Status.UNKNOWN, True), (429, Status.ERROR, True), (None, Status.BOT_CHECK, True),
    (200, Status.AVAILABLE, False), (404, Status.NOT_FOUND, False),
    (200, Status.PRIVATE, False), (None, Status.ERROR, False), (500, Status.ERROR, False),
])
def test_blocked_is_a_platform_turning_the_visitor_away(
    page: int | None, media: Status, expected: bool
) -> None:
    assert blocked(_page(page), _media(media)) is expected


def test_a_page_403_with_the_media_captured_is_not_blocked() -> None:
    assert blocked(_page(403), _media(Status.AVAILABLE, captured=True)) is False


def test_attempts_of_an_access() -> None:
    plain = Access(group="g")
    proxied = Access(group="g", proxy="socks5://u:p@127.0.0.1:1080")
    fallback = dataclasses.replace(proxied, proxy_on_failure_only=True)
    assert plain.attempts() == (plain,) and not plain.proxied
    assert proxied.attempts() == (proxied,) and proxied.proxied
    first, second = fallback.attempts()
    assert (first.proxy, first.proxied) == (None, False)
    assert (second.proxy, second.proxied) == (proxied.proxy, True)
    assert not fallback.proxied


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
async def test_the_browser_part_fetches_through_the_jobs_proxy(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, proxy: ForwardProxy,
    proxied: httpx.AsyncClient
) -> None:
    site.add_bytes("/style.css", b"p { color: red }", "text/css")
    url = site.add_bytes("/styled", html_page(head='<link rel="stylesheet" href="/style.css">',
                                              body="<p>styled</p>"), "text/html")
    access = Access(group="127.0.0.1", proxy=proxy.url)

    async with Browser(browser_settings(settle=1.0)) as browser:
        result = await capture(capture_job(tmp_path, url, access=access), store, proxied, browser=browser)

    assert result.state is CaptureState.COMPLETE, result.message
    assert result.collection["browser"]["state"] == "complete"
    assert "/style.css" in {h.path for h in site.hits}  # the browser's own request
    assert {h.client for h in site.hits} == {"127.0.0.2"}


@pytest.mark.slow
async def test_a_session_through_the_proxy(
    tmp_path: Path, site: FixtureSite, media: Media, store: LocalBlobStore, proxy: ForwardProxy
) -> None:
    """A login-walled post (tests/support/walls.py) opened by a session whose cookies and
    every request go through the proxy: yt-dlp's jar through the guard proxy, httpx's
    session client through its tunnel."""
    wall = add_login_wall(site, media.mp4, cookie_value=secrets.token_hex(16))
    cookies = wall.write_cookies(tmp_path / "cookies.txt")
    access = Access(group="127.0.0.1", label="acct via proxy", cookies_file=cookies,
                    proxy=proxy.url)

    async with make_client(allow_private=False, allow_networks=LOCAL, timeout=5.0,
                           cookies_file=cookies, proxy=proxy.url) as http:
        result = await capture(capture_job(tmp_path, wall.post_url, access=access), store, http)

    assert result.state is CaptureState.COMPLETE, result.message
    (mp4,) = [f for f in result.files if f.role == "media"]
    assert stored(store, mp4.sha256) == media.mp4.read_bytes()
    assert {h.client for h in site.hits} == {"127.0.0.2"}
    assert result.collection["access"] == {"label": "acct via proxy", "session": True,
                                           "proxy": True}
