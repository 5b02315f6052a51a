"""The media download's own HTTP responses (workers/_media_responses.py).

Real yt-dlp in the real child process against the fixture site: a direct file, an
HLS stream, a DASH stream, a refused file, and servers that answer thousands of
headers or huge header values. Jobs allow exactly 127.0.0.1/32.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.support.fixture_site import (
    FixtureSite,
    Handler,
    Media,
    add_directory,
    make_dash,
    make_hls,
    video_tag_page,
)
from workers._media_responses import (
    MAX_ENTRIES,
    MAX_HEADER_CHARS,
    MAX_HEADERS,
    MAX_PER_FORMAT,
    MAX_VALUE,
    checked,
)
from workers.media import MediaOutcome, capture_media
from workers.types import CaptureJob, Limits, Status

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
SECRET = "session=s3cr3t-token"


def make_job(url: str, work_dir: Path) -> CaptureJob:
    return CaptureJob(
        job_id=9, capture_id="00000000-0000-4000-8000-000000000009", target_key=f"web:{url}",
        url=url, platform="web", work_dir=work_dir,
        limits=Limits(max_bytes=5_000_000, timeout_seconds=30.0, socket_timeout_seconds=5.0),
        allow_networks=("127.0.0.1/32",), ffmpeg=shutil.which("ffmpeg"),
    )


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def header(entry: dict[str, object], name: str) -> list[str]:
    pairs = entry["headers"]
    assert isinstance(pairs, list)
    return [v for n, v in pairs if n.lower() == name.lower()]


def assert_safe(outcome: MediaOutcome) -> None:
    """No secret anywhere, and canonical-JSON safe: no floats, only JSON types."""
    text = json.dumps(list(outcome.responses))
    assert "s3cr3t" not in text and "hunter2" not in text
    assert json.loads(text) == list(outcome.responses)
    assert not re.search(r"\d\.\d+[,}\]]", json.dumps([
        {k: v for k, v in e.items() if k not in ("headers", "url", "time", "error")}
        for e in outcome.responses]))


async def test_direct_file_response_with_cookies_removed(
    site: FixtureSite, media: Media, work_dir: Path
) -> None:
    clip = site.add_bytes("/v/clip.mp4", media.mp4.read_bytes(), "video/mp4",
                          headers={"Set-Cookie": SECRET, "X-Served-By": "cache-7"})
    # a redirect that adds credentials to the URL: they must not be recorded
    port = site.server.server_address[1]
    site.add_redirect("/v/go.mp4", f"http://user:hunter2@127.0.0.1:{port}/v/clip.mp4")
    site.add_file("/v/poster.jpg", media.jpg, "image/jpeg")
    site.add_file("/v/subs.vtt", media.vtt, "text/vtt")
    page = site.add_bytes("/v/page.html", video_tag_page(
        site.url("/v/go.mp4"), poster=site.url("/v/poster.jpg"),
        tracks={"ar": site.url("/v/subs.vtt")}), "text/html")
    before = now()

    outcome = await capture_media(make_job(page, work_dir))

    assert outcome.status is Status.AVAILABLE, outcome.message
    # the file only: not the page, the poster or the subtitles
    assert len(outcome.responses) == 1, outcome.responses
    entry = outcome.responses[0]
    assert (entry["kind"], entry["http_status"], entry["error"]) == ("file", 200, "")
    assert entry["url"] == clip  # the URL that answered, after the redirect, no userinfo
    assert isinstance(entry["format_id"], str) and entry["format_id"]
    assert header(entry, "Set-Cookie") == ["[removed]"]
    assert header(entry, "Content-Type") == ["video/mp4"]
    assert header(entry, "Content-Length") == [str(media.mp4.stat().st_size)]
    assert header(entry, "X-Served-By") == ["cache-7"]
    assert entry["header_count"] == len(entry["headers"]) and entry["truncated"] is False
    assert RFC3339.fullmatch(str(entry["time"])) and before <= str(entry["time"]) <= now()
    assert_safe(outcome)


@pytest.mark.parametrize("master", [False, True], ids=["media-playlist", "master-playlist"])
@pytest.mark.slow
async def test_hls_playlist_and_first_fragment(
    site: FixtureSite, media: Media, tmp_path: Path, work_dir: Path, master: bool
) -> None:
    hls = make_hls(media.mp4, tmp_path / "hls").parent
    urls = add_directory(site, "/hls", hls)
    playlist = urls["index.m3u8"]
    site.add_bytes("/hls/index.m3u8", (hls / "index.m3u8").read_bytes(),
                   "application/vnd.apple.mpegurl", headers={"Set-Cookie": SECRET})
    top = site.add_bytes("/hls/master.m3u8", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000,"
                         b"RESOLUTION=160x120\nindex.m3u8\n", "application/vnd.apple.mpegurl")

    outcome = await capture_media(make_job(top if master else playlist, work_dir))

    assert outcome.status is Status.AVAILABLE, outcome.message
    got = [(e["kind"], e["url"], e["http_status"]) for e in outcome.responses]
    expected = [("playlist", playlist, 200), ("fragment", urls["seg0.ts"], 200)]
    assert got == ([("manifest", top, 200)] if master else []) + expected
    assert header(outcome.responses[-2], "Set-Cookie") == ["[removed]"]
    assert header(outcome.responses[-1], "Content-Type") == ["video/mp2t"]
    assert_safe(outcome)


@pytest.mark.slow
async def test_dash_manifest_once_and_each_streams_first_fragment(
    site: FixtureSite, media: Media, tmp_path: Path, work_dir: Path
) -> None:
    dash = make_dash(media.mp4, tmp_path / "dash").parent
    urls = add_directory(site, "/dash", dash)

    outcome = await capture_media(make_job(urls["manifest.mpd"], work_dir))

    assert outcome.status is Status.AVAILABLE, outcome.message
    got = [(e["kind"], e["url"]) for e in outcome.responses]
    assert got == [("manifest", urls["manifest.mpd"]), ("fragment", urls["init-stream0.m4s"]),
                   ("fragment", urls["init-stream1.m4s"])]
    formats = [e["format_id"] for e in outcome.responses]
    assert formats[0] == formats[1] != formats[2]
    assert header(outcome.responses[0], "Content-Type") == ["application/dash+xml"]


async def test_a_refused_file_is_recorded_with_its_status(
    site: FixtureSite, work_dir: Path
) -> None:
    site.add_bytes("/gone.mp4", b"gone", "text/plain", status=403,
                   headers={"Set-Cookie": SECRET, "WWW-Authenticate": "Basic"})
    page = site.add_bytes("/p.html", video_tag_page(site.url("/gone.mp4")), "text/html")

    outcome = await capture_media(make_job(page, work_dir))

    assert outcome.status is not Status.AVAILABLE
    assert outcome.responses, outcome.message
    assert len(outcome.responses) <= MAX_PER_FORMAT
    for entry in outcome.responses:
        assert (entry["kind"], entry["http_status"]) == ("file", 403)
        assert header(entry, "Set-Cookie") == ["[removed]"]
    assert_safe(outcome)


def _many_headers(count: int, size: int) -> Handler:
    def handler(req: BaseHTTPRequestHandler) -> None:
        body = b"\0" * 1000
        req.send_response(200)
        req.send_header("Content-Type", "video/mp4")
        req.send_header("Content-Length", str(len(body)))
        req.send_header("Set-Cookie", SECRET + "x" * size)
        for i in range(count):
            req.send_header(f"X-Junk-{i}", "v" * size)
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(body)

    return handler


@pytest.mark.slow
async def test_thousands_of_headers_are_no_response_not_a_crash(
    site: FixtureSite, work_dir: Path
) -> None:
    site.add("/flood.mp4", _many_headers(5000, 8))
    page = site.add_bytes("/p.html", video_tag_page(site.url("/flood.mp4")), "text/html")

    outcome = await capture_media(make_job(page, work_dir))

    assert outcome.status is Status.ERROR
    assert 1 <= len(outcome.responses) <= MAX_PER_FORMAT, outcome.responses
    for entry in outcome.responses:
        # Python's http.client reads at most 100 headers: no HTTP answer, the reason kept
        assert (entry["kind"], entry["http_status"], entry["headers"]) == ("file", None, [])
        assert "more than 100 headers" in str(entry["error"]), entry["error"]
        assert len(str(entry["error"])) <= 300
    assert_safe(outcome)


@pytest.mark.slow
async def test_huge_header_values_are_bounded(site: FixtureSite, work_dir: Path) -> None:
    # 99 headers in all (send_response adds Server and Date): http.client reads up to 100
    site.add("/fat.mp4", _many_headers(94, 60_000))
    page = site.add_bytes("/p.html", video_tag_page(site.url("/fat.mp4")), "text/html")

    outcome = await capture_media(make_job(page, work_dir))

    assert outcome.status is Status.AVAILABLE, outcome.message
    (entry,) = outcome.responses
    pairs = entry["headers"]
    assert isinstance(pairs, list) and 0 < len(pairs) <= MAX_HEADERS
    assert entry["header_count"] == 94 + 5 and entry["truncated"] is True
    assert all(len(v) <= MAX_VALUE for _, v in pairs)
    assert sum(len(n) + len(v) for n, v in pairs) <= MAX_HEADER_CHARS
    assert header(entry, "Set-Cookie") == ["[removed]"]  # not cut: removed
    assert len(json.dumps(entry)) < 2 * MAX_HEADER_CHARS
    assert_safe(outcome)


# -- what the parent accepts from the child's report -----------------------------------


def good(**change: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "format_id": "0", "kind": "file", "url": "http://h/v.mp4", "http_status": 200,
        "headers": [["Content-Type", "video/mp4"]], "header_count": 1, "truncated": False,
        "time": "2026-01-02T03:04:05.678901Z", "error": "",
    }
    return entry | change


def test_checked_keeps_a_good_entry() -> None:
    assert checked([good()]) == (good(),)


@pytest.mark.parametrize("bad", [
    {"http_status": 200.0}, {"http_status": True}, {"http_status": 99}, {"http_status": "200"},
    {"kind": "page"}, {"time": "yesterday"}, {"time": 1.5}, {"header_count": -1},
    {"header_count": 1.0}, {"truncated": 0}, {"headers": [["a"]]}, {"headers": [["a", 1.5]]},
    {"headers": "Content-Type: x"}, {"url": None}, {"error": ["x"]},
], ids=lambda b: next(iter(b)) + "=" + repr(next(iter(b.values())))[:20])
def test_checked_drops_a_malformed_entry(bad: dict[str, object]) -> None:
    assert checked([good(**bad), good()]) == (good(),)


def test_checked_bounds_what_a_hostile_child_sends() -> None:
    assert checked({"not": "a list"}) == () and checked(None) == ()
    assert len(checked([good()] * 1000)) == MAX_ENTRIES
    flood = good(headers=[["Cookie", "secret"], ["Location", "http://u:hunter2@h/"]]
                 + [["X", "v" * 100_000]] * 500, url="http://u:hunter2@h/" + "a" * 100_000)
    (entry,) = checked([flood])
    assert entry["headers"][:2] == [["Cookie", "[removed]"], ["Location", "http://h/"]]
    assert len(entry["headers"]) <= MAX_HEADERS and entry["truncated"] is True
    assert entry["header_count"] == 502
    assert "hunter2" not in json.dumps(entry) and len(json.dumps(entry)) < 3 * MAX_HEADER_CHARS
