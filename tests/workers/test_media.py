"""The media worker against the fixture site: real yt-dlp, real sockets, real child processes.

Jobs allow exactly 127.0.0.1/32, so the address guard inside the child is
live in every test (127.0.0.2 is still refused). Media are made with ffmpeg
once per session.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import multiprocessing
import re
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixture_site import (
    FixtureSite,
    Media,
    add_directory,
    html_page,
    make_dash,
    make_hls,
    og_video_page,
    video_tag_page,
)
from workers import _netguard
from workers._media_child import _EvidenceYoutubeDL
from workers._media_options import build_options
from workers.media import MediaFile, MediaOutcome, capture_media
from workers.types import CaptureJob, Limits, Status

FFMPEG = shutil.which("ffmpeg")
LOCAL = ("127.0.0.1/32",)
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def make_job(
    url: str,
    work_dir: Path,
    *,
    max_bytes: int = 5_000_000,
    timeout: float = 30.0,
    ffmpeg: str | None = FFMPEG,
    allow_networks: tuple[str, ...] = LOCAL,
    allow_private: bool = False,
) -> CaptureJob:
    return CaptureJob(
        job_id=7,
        capture_id="00000000-0000-4000-8000-000000000007",
        target_key=f"web:{url}",
        url=url,
        platform="web",
        work_dir=work_dir,
        limits=Limits(max_bytes=max_bytes, timeout_seconds=timeout, socket_timeout_seconds=5.0),
        allow_private=allow_private,
        allow_networks=allow_networks,
        ffmpeg=ffmpeg,
    )


def sha256(data: bytes | Path) -> str:
    return hashlib.sha256(data.read_bytes() if isinstance(data, Path) else data).hexdigest()


def role(outcome: MediaOutcome, name: str) -> list[MediaFile]:
    return [f for f in outcome.files if f.role == name]


def only(outcome: MediaOutcome, name: str) -> MediaFile:
    files = role(outcome, name)
    assert len(files) == 1, outcome.files
    return files[0]


def assert_no_leftovers(work_dir: Path) -> None:
    names = [p.name for p in work_dir.rglob("*")]
    assert not [n for n in names if re.search(r"\.part|\.ytdl$|\.temp\.", n)], names


def assert_listed_all(outcome: MediaOutcome, work_dir: Path) -> None:
    on_disk = sorted(p for p in work_dir.rglob("*") if p.is_file())
    assert sorted(f.path for f in outcome.files) == on_disk


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory, media: Media) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("streams")
    return {
        "hls": make_hls(media.mp4, root / "hls").parent,
        "dash": make_dash(media.mp4, root / "dash").parent,
    }


# -- captures that succeed -------------------------------------------------------------


async def test_direct_mp4_is_kept_byte_for_byte(
    site: FixtureSite, media: Media, work_dir: Path
) -> None:
    url = site.add_file("/clip.mp4", media.mp4, "video/mp4")

    outcome = await capture_media(make_job(url, work_dir))

    assert (outcome.status, outcome.message, outcome.transient) == (Status.AVAILABLE, "", False)
    assert not outcome.no_media
    clip = only(outcome, "media")
    assert sha256(clip.path) == media.sha256("mp4")
    assert clip.media_type == "video/mp4"
    assert clip.path.parent == work_dir
    assert only(outcome, "info").media_type == "application/json"
    assert outcome.resolved_url == url
    assert outcome.metadata["extractor_key"] == "Generic"
    assert_listed_all(outcome, work_dir)


async def test_video_tag_page_keeps_subtitles_and_poster(
    site: FixtureSite, media: Media, work_dir: Path
) -> None:
    site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    site.add_file("/v/subs.ar.vtt", media.vtt, "text/vtt")
    site.add_file("/v/poster.jpg", media.jpg, "image/jpeg")
    page = video_tag_page("/v/clip.mp4", poster="/v/poster.jpg", tracks={"ar": "/v/subs.ar.vtt"})
    url = site.add_bytes("/v/page.html", page, "text/html")

    outcome = await capture_media(make_job(url, work_dir))

    assert outcome.status is Status.AVAILABLE, outcome.message
    assert sha256(only(outcome, "media").path) == media.sha256("mp4")
    subtitle = only(outcome, "subtitle")
    assert (subtitle.path.read_bytes(), subtitle.media_type) == (media.vtt.read_bytes(), "text/vtt")
    assert subtitle.path.name.endswith(".ar.vtt")
    thumbnail = only(outcome, "thumbnail")
    assert (sha256(thumbnail.path), thumbnail.media_type) == (media.sha256("jpg"), "image/jpeg")
    assert outcome.resolved_url == url
    assert_listed_all(outcome, work_dir)


async def test_og_video_page(site: FixtureSite, media: Media, work_dir: Path) -> None:
    site.add_file("/media/other.mp4", media.mp4_b, "video/mp4")
    page = og_video_page("/media/other.mp4", title="Attack on the market")
    url = site.add_bytes("/post/123", page, "text/html")

    outcome = await capture_media(make_job(url, work_dir))

    assert outcome.status is Status.AVAILABLE, outcome.message
    assert sha256(only(outcome, "media").path) == media.sha256("mp4_b")
    assert outcome.metadata["title"] == "Attack on the market"


async def test_hls_keeps_segment_bytes_as_served(
    site: FixtureSite, streams: dict[str, Path], work_dir: Path
) -> None:
    urls = add_directory(site, "/hls", streams["hls"])
    segments = sorted(streams["hls"].glob("seg*.ts"), key=lambda p: int(p.stem[3:]))
    assert len(segments) >= 2

    outcome = await capture_media(make_job(urls["index.m3u8"], work_dir))

    assert outcome.status is Status.AVAILABLE, outcome.message
    stream = only(outcome, "media")
    assert stream.path.read_bytes() == b"".join(s.read_bytes() for s in segments)
    assert stream.media_type == "video/mp2t"  # fixup 'never': MPEG-TS, whatever the name says
    assert_no_leftovers(work_dir)


async def test_dash_keeps_both_streams_and_merges(
    site: FixtureSite, streams: dict[str, Path], work_dir: Path
) -> None:
    urls = add_directory(site, "/dash", streams["dash"])

    outcome = await capture_media(make_job(urls["manifest.mpd"], work_dir))

    assert outcome.status is Status.AVAILABLE, outcome.message
    def served_stream(n: int) -> bytes:  # init segment, then media segments in order
        parts = sorted(streams["dash"].glob(f"*-stream{n}*"),
                       key=lambda p: (not p.name.startswith("init"), p.name))
        return b"".join(p.read_bytes() for p in parts)

    served = {sha256(served_stream(0)), sha256(served_stream(1))}
    assert {sha256(f.path) for f in role(outcome, "component")} == served
    merged = only(outcome, "media")
    assert merged.media_type == "video/mp4"
    assert merged.path.stat().st_size > 0
    assert_no_leftovers(work_dir)


async def test_without_ffmpeg_a_single_file(site: FixtureSite, media: Media, work_dir: Path) -> None:
    url = site.add_file("/clip.mp4", media.mp4, "video/mp4")

    outcome = await capture_media(make_job(url, work_dir, ffmpeg=None))

    assert outcome.status is Status.AVAILABLE, outcome.message
    assert sha256(only(outcome, "media").path) == media.sha256("mp4")


async def test_without_ffmpeg_separate_streams_are_kept_unmerged(
    site: FixtureSite, streams: dict[str, Path], work_dir: Path
) -> None:
    urls = add_directory(site, "/dash", streams["dash"])

    outcome = await capture_media(make_job(urls["manifest.mpd"], work_dir, ffmpeg=None))

    assert outcome.status is Status.AVAILABLE, outcome.message
    assert sorted(f.media_type for f in role(outcome, "media")) == ["audio/mp4", "video/mp4"]
    assert not role(outcome, "component")


async def test_filenames_never_carry_remote_text(
    site: FixtureSite, media: Media, work_dir: Path
) -> None:
    hostile = "../../etc/passwd سوق دوما"
    video = "/m/%D8%B3%D9%88%D9%82.mp4"  # an Arabic file name: the generic id is the basename
    site.add_file(video, media.mp4, "video/mp4")
    site.add_file("/m/subs.vtt", media.vtt, "text/vtt")
    page = html_page(
        title=hostile,
        head=f'<meta property="og:title" content="{html.escape(hostile)}">',
        body=f'<video src="{video}"><track kind="subtitles" srclang="../../../evil"'
        ' src="/m/subs.vtt"></video>',
    )
    url = site.add_bytes("/m/page.html", page, "text/html")

    outcome = await capture_media(make_job(url, work_dir))

    assert outcome.status is Status.AVAILABLE, outcome.message
    assert role(outcome, "media")
    assert outcome.metadata["title"].startswith(hostile)  # the title is kept as data, never as a name
    for path in work_dir.rglob("*"):
        assert path.parent == work_dir
        assert SAFE_NAME.fullmatch(path.name), path.name
        assert "passwd" not in path.name and "evil" not in path.name


# -- captures that find nothing or fail ---------------------------------------------------


async def test_page_without_media_is_no_media_not_failure(site: FixtureSite, work_dir: Path) -> None:
    url = site.add_bytes("/article.html", b"<html><body><p>Text only.</p></body></html>", "text/html")

    outcome = await capture_media(make_job(url, work_dir))

    assert outcome.no_media
    assert (outcome.status, outcome.transient) == (Status.AVAILABLE, False)
    assert outcome.message == f"Unsupported URL: {url}"
    assert outcome.files == ()


@pytest.mark.parametrize("code", [404, 410])
async def test_gone_is_not_found(site: FixtureSite, work_dir: Path, code: int) -> None:
    url = site.add_bytes("/watch", b"<html>gone</html>", "text/html", status=code)

    outcome = await capture_media(make_job(url, work_dir))

    assert (outcome.status, outcome.transient) == (Status.NOT_FOUND, False)
    assert outcome.message.startswith(f"Unable to download webpage: HTTP Error {code}")
    assert outcome.files == ()


@pytest.mark.slow
async def test_slow_link_is_killed_at_the_deadline(
    site: FixtureSite, media: Media, work_dir: Path
) -> None:
    url = site.add_slow("/slow.mp4", media.mp4.read_bytes(), "video/mp4", delay=0.2)

    started = time.monotonic()
    outcome = await capture_media(make_job(url, work_dir, timeout=3))
    elapsed = time.monotonic() - started

    assert elapsed < 6
    assert (outcome.status, outcome.transient) == (Status.ERROR, True)
    assert outcome.message == "timed out after 3 s"
    assert not role(outcome, "media")
    assert_no_leftovers(work_dir)


@pytest.mark.parametrize("declared", [10**9, None], ids=["content-length", "no-length"])
async def test_oversized_download_stops_with_a_clear_message(
    site: FixtureSite, work_dir: Path, declared: int | None
) -> None:
    url = site.add_endless("/huge.mp4", "video/mp4", declared=declared)

    outcome = await capture_media(make_job(url, work_dir, max_bytes=1_000_000))

    assert (outcome.status, outcome.transient) == (Status.ERROR, False)
    assert outcome.message == "larger than the limit of 1000000 bytes"
    assert not role(outcome, "media")
    assert_no_leftovers(work_dir)
    assert all(f.path.stat().st_size <= 1_000_000 for f in outcome.files)


async def test_endless_thumbnail_is_stopped_by_the_watchdog(
    site: FixtureSite, media: Media, work_dir: Path
) -> None:
    # yt-dlp fetches thumbnails outside its downloaders: no max_filesize, no progress hook.
    site.add_file("/t/clip.mp4", media.mp4, "video/mp4")
    site.add_endless("/t/poster.jpg", "image/jpeg")
    url = site.add_bytes("/t/page.html", video_tag_page("/t/clip.mp4", poster="/t/poster.jpg"),
                         "text/html")

    outcome = await capture_media(make_job(url, work_dir, max_bytes=1_000_000))

    assert (outcome.status, outcome.transient) == (Status.ERROR, False)
    assert outcome.message == "larger than the limit of 1000000 bytes"


async def test_ffmpeg_cannot_fetch_on_its_own(
    site: FixtureSite, streams: dict[str, Path], work_dir: Path
) -> None:
    # An HLS feature the native downloader lacks makes yt-dlp hand the URL to
    # ffmpeg, which would connect without the address guard: it must fail instead.
    add_directory(site, "/hls", streams["hls"])
    playlist = (streams["hls"] / "index.m3u8").read_text().replace(
        "#EXT-X-TARGETDURATION", '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="key.bin"\n#EXT-X-TARGETDURATION'
    )
    url = site.add_bytes("/hls/odd.m3u8", playlist.encode(), "application/vnd.apple.mpegurl")

    outcome = await capture_media(make_job(url, work_dir))

    assert outcome.status is Status.ERROR
    assert not role(outcome, "media")
    assert not [h.path for h in site.hits if not h.path.endswith(".m3u8")]


async def test_redirect_to_a_refused_address(site: FixtureSite, media: Media, work_dir: Path) -> None:
    site.add_file("/clip.mp4", media.mp4, "video/mp4")
    port = site.server.server_address[1]
    url = site.add_redirect("/hop", f"http://127.0.0.2:{port}/clip.mp4")

    outcome = await capture_media(make_job(url, work_dir))

    assert outcome.status is Status.ERROR
    assert not outcome.transient
    assert outcome.message == "refused: 127.0.0.2 is not a public address"
    assert [h.path for h in site.hits] == ["/hop"]


async def test_loopback_refused_unless_allowed(site: FixtureSite, media: Media, tmp_path: Path) -> None:
    url = site.add_file("/clip.mp4", media.mp4, "video/mp4")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    refused = await capture_media(make_job(url, tmp_path / "a", allow_networks=()))
    assert (refused.status, refused.message) == (
        Status.ERROR, "refused: 127.0.0.1 is not a public address")
    assert site.hits == []  # refused before connecting

    allowed = await capture_media(make_job(url, tmp_path / "b", allow_networks=(), allow_private=True))
    assert allowed.status is Status.AVAILABLE, allowed.message


@pytest.mark.slow
async def test_cancelling_the_task_kills_the_child(
    site: FixtureSite, media: Media, work_dir: Path
) -> None:
    url = site.add_slow("/slow.mp4", media.mp4.read_bytes(), "video/mp4", delay=0.2)
    task = asyncio.create_task(capture_media(make_job(url, work_dir)))
    await asyncio.sleep(1.5)

    task.cancel()
    with pytest.raises(asyncio.CancelledError, match=r"^$"):
        await task

    assert not [p for p in multiprocessing.active_children() if p.name.startswith("preserver-media")]


async def test_child_crash_is_an_error_not_an_exception(
    site: FixtureSite, media: Media, work_dir: Path
) -> None:
    url = site.add_file("/clip.mp4", media.mp4, "video/mp4")
    # A malformed CIDR makes the address guard fail inside the child, before yt-dlp runs.
    outcome = await capture_media(make_job(url, work_dir, allow_networks=("nonsense",)))

    assert (outcome.status, outcome.transient) == (Status.ERROR, False)
    # (the child's traceback goes to the stderr the forkserver was started with)
    assert outcome.message == "capture process ended without a result (exit code 1)"


# -- pure parts ----------------------------------------------------------------------------


@pytest.mark.parametrize("ffmpeg", ["/usr/bin/ffmpeg", None])
def test_build_options_are_evidence_options(work_dir: Path, ffmpeg: str | None) -> None:
    job = make_job("https://example.org/v", work_dir, ffmpeg=ffmpeg)

    opts = build_options(job, ffmpeg=ffmpeg)

    assert opts["paths"] == {"home": str(work_dir)}
    assert all("title" not in t for t in opts["outtmpl"].values())
    assert opts["format"] == ("bv*+ba/b" if ffmpeg else "b/(bv*,ba)")
    expected = {
        "keepvideo": True, "fixup": "never", "noplaylist": True, "ignoreerrors": False,
        "restrictfilenames": True, "writeinfojson": True, "clean_infojson": True,
        "writethumbnail": True, "writesubtitles": True, "writeautomaticsub": True,
        "subtitleslangs": ["all", "-live_chat"], "max_filesize": 5_000_000,
        "socket_timeout": 5.0, "cachedir": False, "cookiefile": None,
        "skip_unavailable_fragments": False, "fragment_retries": 3,
    }
    assert {k: opts[k] for k in expected} == expected


def _sub(ext: str = "vtt") -> list[dict[str, Any]]:
    return [{"ext": ext, "url": "https://example.org/s"}]


def test_subtitles_all_manual_but_only_original_automatic() -> None:
    manual = {"ar": _sub(), "en": _sub(), "live_chat": _sub("json")}
    automatic = {"ar-orig": _sub(), "ar": _sub(), "fr": _sub(), "de": _sub(), "en": _sub()}
    with _EvidenceYoutubeDL({"quiet": True, "writesubtitles": True, "writeautomaticsub": True,
                             "subtitleslangs": ["all", "-live_chat"]}) as ydl:
        chosen = ydl.process_subtitles("x", manual, automatic)

    assert sorted(chosen) == ["ar", "ar-orig", "en"]


# -- the address rule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("::1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("ff02::1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:8.8.8.8", False),  # IPv4-mapped: refused whatever it maps (tests/hostile)
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b::808:808", True),
        ("not-an-ip", False),
    ],
)
def test_address_allowed(ip: str, allowed: bool) -> None:
    assert _netguard.address_allowed(ip, allow_private=False, allow_networks=()) is allowed


def test_address_allowed_by_network_or_private() -> None:
    assert _netguard.address_allowed("127.0.0.1", allow_private=False, allow_networks=LOCAL)
    assert _netguard.address_allowed("::ffff:127.0.0.1", allow_private=False, allow_networks=LOCAL)
    assert not _netguard.address_allowed("127.0.0.2", allow_private=False, allow_networks=LOCAL)
    assert _netguard.address_allowed("10.1.2.3", allow_private=False, allow_networks=("10.0.0.0/8",))
    assert _netguard.address_allowed("169.254.169.254", allow_private=True, allow_networks=())


def test_guarded_resolver_refuses_any_private_answer() -> None:
    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port)),
        ]

    resolve = _netguard._guarded(fake, False, ())

    with pytest.raises(socket.gaierror, match=r"^refused: 10\.0\.0\.1 is not a public address$"):
        resolve("mixed.example", 80)
    assert _netguard._guarded(fake, False, ("10.0.0.0/8",))("mixed.example", 80)
    assert resolve(None, 80)  # passive lookups reach nothing


def test_bad_cidr_fails_loudly() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        _netguard.address_allowed("8.8.8.8", allow_private=False, allow_networks=("nonsense",))
