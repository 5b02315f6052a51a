"""capture() meets a login wall: real captures of the fixture site's wall pages.

The wall's page snapshot is kept as evidence of the wall, never as the post: the
capture is ``failed`` (``partial`` only when media was really stored), status
``login_required``, transient, ``wall``, and its message says it was a wall. Pages
that only mention logging in are captured as usual. The media part is the real yt-dlp
(its generic extractor; the ``facebook`` target is a fixture page, no stub)."""

from __future__ import annotations

import gzip
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from storage.local import LocalBlobStore
from tests.support.fixture_site import FixtureSite, Media, html_page, send
from tests.support.jobs import capture_job
from tests.support.wall_pages import FACEBOOK_LOGIN, LOGIN_FORM, NOT_WALLS, PROSE
from tests.support.walls import add_login_wall
from workers._verdict import judge
from workers.capture import capture
from workers.media import MediaOutcome
from workers.page import PageOutcome
from workers.types import CapturedFile, CaptureResult, CaptureState, Status

LOOPBACK = ("127.0.0.1/32",)




def responses(store: LocalBlobStore, f: CapturedFile) -> list[tuple[str, bytes]]:
    with store.open(f.sha256) as blob:
        return [(r.http_headers.get_statuscode(), r.content_stream().read())
                for r in ArchiveIterator(blob) if r.rec_type == "response"]


def assert_walled(result: CaptureResult, state: CaptureState = CaptureState.FAILED) -> None:
    assert (result.state, result.status, result.transient, result.wall) == (
        state, Status.LOGIN_REQUIRED, True, True)
    assert result.message.startswith("wall (login): ")


async def test_a_login_form_page_is_a_wall_kept_as_evidence(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    url = site.add_bytes("/post/1", LOGIN_FORM, "text/html")

    result = await capture(capture_job(tmp_path, url), store, http)

    assert_walled(result)
    assert result.message == "wall (login): the page is a login form"
    assert [f.role for f in result.files] == ["page"]  # the wall, no media
    assert responses(store, result.files[0]) == [("200", LOGIN_FORM)]


@pytest.mark.slow
async def test_a_redirect_to_the_login_page_is_a_wall(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    site.add_bytes("/accounts/login", html_page(body=f"<p>{PROSE}</p>"), "text/html")
    url = site.add_redirect("/post/2", site.url("/accounts/login?next=/post/2"))

    result = await capture(capture_job(tmp_path, url), store, http)

    assert_walled(result)
    assert "redirected to a login page (/accounts/login)" in result.message
    assert [code for code, _ in responses(store, result.files[0])] == ["302", "200"]


async def test_a_compressed_login_form_is_read(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    def gzipped(req: BaseHTTPRequestHandler) -> None:
        send(req, 200, gzip.compress(LOGIN_FORM), "text/html", {"Content-Encoding": "gzip"})

    url = site.add("/post/3", gzipped)

    assert_walled(await capture(capture_job(tmp_path, url), store, http))


@pytest.mark.slow
async def test_a_facebook_login_page_where_the_post_should_be(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    url = site.add_bytes("/fb/videos/123", FACEBOOK_LOGIN, "text/html")
    job = capture_job(tmp_path, url, platform="facebook", key="facebook:123")

    result = await capture(job, store, http)

    assert_walled(result)
    assert "Facebook shows its login page" in result.message
    assert [f.role for f in result.files] == ["page"]


@pytest.mark.slow
async def test_a_wall_around_a_video_is_partial_not_complete(
    tmp_path: Path, site: FixtureSite, media: Media, store: LocalBlobStore,
    http: httpx.AsyncClient,
) -> None:
    video = site.add_file("/v/walled.mp4", media.mp4, "video/mp4")
    page = LOGIN_FORM.replace(b"</body>", f'<video src="{video}"></video></body>'.encode())
    url = site.add_bytes("/post/4", page, "text/html")

    result = await capture(capture_job(tmp_path, url), store, http)

    assert_walled(result, CaptureState.PARTIAL)  # media was really stored; the page is a wall
    assert {f.role for f in result.files} >= {"page", "media"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOT_WALLS))
async def test_pages_that_only_look_like_walls_are_captured(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, http: httpx.AsyncClient, name: str,
) -> None:
    url = site.add_bytes(f"/page/{name}", NOT_WALLS[name], "text/html")

    result = await capture(capture_job(tmp_path, url), store, http)

    assert (result.state, result.status, result.wall) == (
        CaptureState.COMPLETE, Status.AVAILABLE, False)


@pytest.mark.slow
async def test_a_huge_page_is_judged_by_its_start(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    huge = html_page(body=f"<p>{PROSE}</p>" * 3000 + LOGIN_FORM.decode())  # ~8 MiB
    url = site.add_bytes("/huge", huge, "text/html")

    result = await capture(capture_job(tmp_path, url), store, http)

    assert (result.state, result.wall) == (CaptureState.COMPLETE, False)


def _outcomes(tmp_path: Path, store: LocalBlobStore, dom: bytes
              ) -> tuple[PageOutcome, MediaOutcome, list[CapturedFile]]:
    page = PageOutcome(status=Status.AVAILABLE, message="", transient=False, http_status=200,
                       final_url="https://www.facebook.com/watch/?v=1", content_type="text/html",
                       body_bytes=10, truncated=False, hops=1)
    media = MediaOutcome(status=Status.AVAILABLE, message="", transient=False, files=(),
                         metadata={}, resolved_url=None, no_media=True)
    blob = store.put_bytes(dom)
    return page, media, [
        CapturedFile(role="page", name="p", sha256="0" * 64, size=1,
                     media_type="application/warc"),
        CapturedFile(role="dom", name="d", sha256=blob.sha256, size=blob.size,
                     media_type="text/html")]


@pytest.mark.parametrize(("dom", "walled"), [(FACEBOOK_LOGIN, True), (NOT_WALLS["search_form"],
                                                                      False)])
def test_the_rendered_dom_of_a_facebook_post_can_show_the_wall(
    tmp_path: Path, store: LocalBlobStore, dom: bytes, walled: bool,
) -> None:
    """The browser's stored DOM (scripts drew the login form after the snapshot's HTML)
    is read too; without Chromium here, the outcomes are built and the DOM stored."""
    job = capture_job(tmp_path, "https://www.facebook.com/watch/?v=1", platform="facebook",
                  key="facebook:1")
    page, media, files = _outcomes(tmp_path, store, dom)

    got = judge(job, page, media, files, store)

    if walled:
        message = "wall (login): Facebook shows its login page (You must log in to continue)"
        assert got == (True, (CaptureState.FAILED, Status.LOGIN_REQUIRED, message, True))
    else:
        assert got[0] is False and got[1][1] is Status.UNKNOWN  # no media: not a wall either


@pytest.mark.slow
async def test_the_cookies_tests_walled_post_without_a_session(
    tmp_path: Path, site: FixtureSite, media: Media, store: LocalBlobStore,
    http: httpx.AsyncClient,
) -> None:
    """The post the session tests open with a cookie (``tests/support/walls.py``), seen
    anonymously: a login wall, kept as such; no media; tried again later."""
    wall = add_login_wall(site, media.mp4, cookie_value="v" + "0" * 32)

    result = await capture(capture_job(tmp_path, wall.post_url), store, http)

    assert_walled(result)
    assert not any(f.role == "media" for f in result.files)
    ((code, body),) = responses(store, next(f for f in result.files if f.role == "page"))
    assert code == "200" and b'id="login_form"' in body
