"""capture() with a session: a post behind a login wall on the fixture site
(``tests/support/walls.py``), the real yt-dlp in its child process, real httpx, the real
blob store. The cookie's value must reach the server and nothing preserver writes.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
import secrets
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from storage.local import LocalBlobStore
from tests.support.fixture_site import FixtureSite, Media
from tests.support.jobs import capture_job
from tests.support.walls import COOKIE_NAME, SERVER_COOKIE, LoginWall, add_login_wall, files_holding
from workers._probe_child import ProbeRequest
from workers._probe_child import probe as probe_in_process
from workers.access import Access
from workers.capture import capture
from workers.net import make_client
from workers.types import CapturedFile, CaptureResult

LOOPBACK = ("127.0.0.1/32",)
LABEL = "account-3 test"
MARKER = f"[redacted: session {LABEL}]"


@pytest.fixture
def wall(site: FixtureSite, media: Media) -> LoginWall:
    return add_login_wall(site, media.mp4, cookie_value="v" + secrets.token_hex(20))




async def run(tmp_path: Path, url: str, access: Access) -> tuple[CaptureResult, LocalBlobStore]:
    store = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=5.0,
                           cookies_file=access.cookies_file) as http:
        return await capture(capture_job(tmp_path, url, access=access), store, http), store


def warc_headers(store: LocalBlobStore, f: CapturedFile) -> list[tuple[str, dict[str, str]]]:
    with store.open(f.sha256) as blob:
        return [(r.rec_type, dict(r.http_headers.headers) if r.http_headers else {})
                for r in ArchiveIterator(blob, check_digests="raise")]


def warcinfo(store: LocalBlobStore, f: CapturedFile) -> str:
    with store.open(f.sha256) as blob:
        return gzip.decompress(blob.read()).decode("utf-8", "replace")


@pytest.mark.slow
async def test_a_session_opens_the_wall_and_its_value_is_kept_nowhere(
    tmp_path: Path, site: FixtureSite, media: Media, wall: LoginWall,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "secret").mkdir()
    cookies = wall.write_cookies(tmp_path / "secret" / "cookies.txt")
    before = (cookies.read_bytes(), cookies.stat().st_mtime_ns, cookies.stat().st_mode)
    access = Access(group="127.0.0.1", label=LABEL, cookies_file=cookies)
    result, store = await run(tmp_path, wall.post_url, access)

    by_role = {f.role: f for f in result.files}
    assert by_role["media"].sha256 == media.sha256("mp4")  # the video, byte for byte
    assert result.collection["access"] == {"label": LABEL, "session": True, "proxy": False}
    # the server saw the session on the page (httpx and yt-dlp) and on the video
    hits = [(h.path, h.headers.get("Cookie", "")) for h in site.hits]
    assert all(f"{COOKIE_NAME}={wall.cookie_value}" in c for _, c in hits)
    assert {p for p, _ in hits} == {"/walled/post", "/walled/video.mp4"}
    # preserver's own client never sent back the cookie the server set
    assert not any(SERVER_COOKIE in h.headers.get("Cookie", "") for h in site.hits
                   if h.headers.get("User-Agent", "").startswith("python-httpx"))
    # the WARC says a session was sent, and which, never its value
    records = warc_headers(store, by_role["page"])
    (request,) = [h for kind, h in records if kind == "request"]
    assert request["Cookie"] == MARKER
    assert f"recorded as {MARKER}" in warcinfo(store, by_role["page"])
    # the value is in no blob (WARCs decompressed), in no log line, and the file is as it was
    assert files_holding(tmp_path / "blobs", wall.cookie_value) == []
    assert files_holding(tmp_path / "blobs", wall.server_value) == []
    assert files_holding(tmp_path / "tmp", wall.cookie_value) == []
    assert wall.cookie_value not in caplog.text
    assert (cookies.read_bytes(), cookies.stat().st_mtime_ns, cookies.stat().st_mode) == before
    assert list((tmp_path / "secret").iterdir()) == [cookies]  # nothing written beside it


@pytest.mark.slow
async def test_without_a_session_the_wall_is_kept_and_no_media(
    tmp_path: Path, site: FixtureSite, wall: LoginWall,
) -> None:
    result, store = await run(tmp_path, wall.post_url, Access(group="127.0.0.1"))
    assert [f.role for f in result.files] == ["page"]  # no media: the wall's page only
    assert result.collection["access"] == {"label": "", "session": False, "proxy": False}
    with store.open(result.files[0].sha256) as blob:
        page = gzip.decompress(blob.read())
    assert b'<form id="login_form"' in page and b"<video" not in page
    assert all("Cookie" not in h.headers for h in site.hits if h.path == "/walled/post"
               and h.headers.get("User-Agent", "").startswith("python-httpx"))
    assert "/walled/video.mp4" not in {h.path for h in site.hits}


async def test_a_cookies_file_broken_at_capture_time_is_no_anonymous_capture(
    tmp_path: Path, site: FixtureSite, wall: LoginWall,
) -> None:
    """The media child reads the file itself; a JSON export in its place fails the media
    part in one line that quotes nothing of it, and yt-dlp fetches nothing."""
    broken = tmp_path / "cookies.txt"
    broken.write_text(f'[{{"name": "{COOKIE_NAME}", "value": "{wall.cookie_value}"}}]',
                      encoding="utf-8")
    access = Access(group="127.0.0.1", label=LABEL, cookies_file=broken)
    store = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=5.0) as http:
        job = capture_job(tmp_path, wall.post_url, access=access)
        result = await capture(job, store, http)
    assert result.message == (f"media: session {LABEL}: cookies file a JSON cookie export, not "
                              "a Netscape-format cookies file: export the cookies as "
                              "cookies.txt (# Netscape HTTP Cookie File)")
    assert result.transient and not any(f.role == "media" for f in result.files)
    assert [h.headers.get("User-Agent", "")[:12] for h in site.hits] == ["python-httpx"]
    assert wall.cookie_value not in repr(dataclasses.asdict(result))


@pytest.mark.slow
@pytest.mark.parametrize("with_session", [True, False])
def test_the_ytdlp_probe_sends_the_session(
    tmp_path: Path, site: FixtureSite, wall: LoginWall, with_session: bool,
) -> None:
    """The probe child's yt-dlp run (called in this process): with the session it sees the
    post's video; without, the wall, which holds none."""
    cookies = wall.write_cookies(tmp_path / "cookies.txt") if with_session else None
    report = probe_in_process(ProbeRequest(url=wall.post_url, socket_timeout=5.0,
                                           allow_private=False, allow_networks=LOOPBACK,
                                           cookies_file=cookies))
    assert (report["status"], report["no_media"]) == (
        ("available", False) if with_session else ("unknown", True))  # no media: the wall
    sent = [h.headers.get("Cookie", "") for h in site.hits]
    assert sent and all((wall.cookie_value in c) is with_session for c in sent)
    if cookies is not None:
        cookies.write_text("not a cookies file", encoding="utf-8")
        report = probe_in_process(ProbeRequest(url=wall.post_url, socket_timeout=5.0,
                                               allow_private=False, allow_networks=LOOPBACK,
                                               cookies_file=cookies))
        assert (report["status"], report["transient"], report["message"]) == (
            "error", True, ("session cookies file not a Netscape-format cookies file: its "
                           "first line must be '# Netscape HTTP Cookie File'"))
