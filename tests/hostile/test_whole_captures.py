"""Whole captures: a video with a piece missing is never recorded ``complete``.

Real yt-dlp against the fixture site (``tests/support/fixture_site.py``), which
serves HLS and DASH renditions made with ffmpeg and refuses one piece of each:
a segment, an init segment (``EXT-X-MAP``), a decryption key (``EXT-X-KEY``).
yt-dlp's default skips a fragment it cannot fetch and hands over a shorter
video; with it, each of these captures came out ``complete``. The duration
check runs the real ffprobe.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from storage.local import LocalBlobStore
from tests.support.fixture_site import (
    FixtureSite,
    Media,
    add_directory,
    html_page,
    make_clip,
    make_dash,
    make_hls,
)
from workers._media_whole import (
    DurationCheck,
    Gaps,
    Playlist,
    find_ffprobe,
    missing_streams,
    short_entries,
    short_media,
)
from workers.capture import capture
from workers.media import capture_media
from workers.net import make_client
from workers.types import CaptureJob, CaptureState, Limits, Status

# Real media cut in every way a server can cut it: seconds each (CI runs them all).
pytestmark = pytest.mark.slow

FFMPEG = shutil.which("ffmpeg")
LOCAL = ("127.0.0.1/32",)
KEY = bytes(range(16))


def make_job(url: str, work_dir: Path) -> CaptureJob:
    work_dir.mkdir(parents=True, exist_ok=True)
    return CaptureJob(
        job_id=9, capture_id=str(uuid.uuid4()), target_key=f"web:{url}", url=url,
        platform="web", work_dir=work_dir,
        limits=Limits(max_bytes=5_000_000, timeout_seconds=60.0, socket_timeout_seconds=5.0),
        allow_networks=LOCAL, ffmpeg=FFMPEG,
    )


@pytest.fixture(scope="module")
def renditions(tmp_path_factory: pytest.TempPathFactory, media: Media) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("renditions")
    return {
        "hls": make_hls(media.mp4, root / "hls").parent,
        "hls-fmp4": make_hls(media.mp4, root / "hls-fmp4", fmp4=True).parent,
        "hls-key": make_hls(media.mp4, root / "hls-key", key=KEY).parent,
        "dash": make_dash(media.mp4, root / "dash").parent,
    }


def serve(site: FixtureSite, renditions: dict[str, Path], name: str, *, refuse: str = "",
          status: int = 404) -> dict[str, str]:
    """Serve one rendition under ``/<name>/``, with the file ``refuse`` answering ``status``."""
    urls = add_directory(site, f"/{name}", renditions[name])
    if refuse:
        site.add_bytes(f"/{name}/{refuse}", b"refused", "text/plain", status=status)
    return urls


# -- a refused piece ---------------------------------------------------------------------

INCOMPLETE = "the video is incomplete"
REFUSED = [  # rendition, the piece refused, its answer, transient, the outcome's message
    ("hls", "seg1.ts", 404, False, "HLS segment 2 of {n} (…/seg1.ts) answered HTTP 404; " + INCOMPLETE),
    ("hls-fmp4", "init.mp4", 403, True,
     "the initialization segment of the HLS stream (…/init.mp4) answered HTTP 403; " + INCOMPLETE),
    # yt-dlp numbers the init segment as fragment 1; the message counts media segments
    ("hls-fmp4", "seg0.m4s", 404, False, "HLS segment 1 of {n} (…/seg0.m4s) answered HTTP 404; " + INCOMPLETE),
    # the last audio segment; DASH counts the init segment as the first
    ("dash", "{last}", 404, False,
     "DASH audio stream, segment {n} of {n} (…/{last}) answered HTTP 404; " + INCOMPLETE),
    ("hls-key", "key.bin", 403, True,
     ("the decryption key of the HLS stream (…/key.bin) answered HTTP 403; "
      "the video could not be decrypted")),
]


def pieces(directory: Path) -> dict[str, object]:
    """{n}: the segments a message counts; {last}: the last DASH audio segment."""
    audio = sorted(p.name for p in directory.glob("chunk-stream1-*.m4s"))
    if audio:
        return {"n": 1 + len(audio), "last": audio[-1]}
    return {"n": len(list(directory.glob("seg*"))), "last": ""}


@pytest.mark.parametrize(("name", "refuse", "status", "transient", "message"), REFUSED,
                         ids=[f"{c[0]}-{c[1]}" for c in REFUSED])
async def test_a_refused_piece_is_named_never_skipped(
    site: FixtureSite, renditions: dict[str, Path], tmp_path: Path,
    name: str, refuse: str, status: int, transient: bool, message: str,
) -> None:
    fill = pieces(renditions[name])
    urls = serve(site, renditions, name, refuse=refuse.format(**fill), status=status)
    playlist = urls.get("index.m3u8") or urls["manifest.mpd"]

    outcome = await capture_media(make_job(playlist, tmp_path / "work"))

    assert (outcome.status, outcome.message, outcome.transient) == (
        Status.ERROR, message.format(**fill), transient)
    assert not [f for f in outcome.files if f.role == "media"], outcome.files


async def test_hls_with_its_key_is_complete(
    site: FixtureSite, renditions: dict[str, Path], tmp_path: Path
) -> None:
    urls = serve(site, renditions, "hls-key")

    outcome = await capture_media(make_job(urls["index.m3u8"], tmp_path / "work"))

    assert (outcome.status, outcome.message) == (Status.AVAILABLE, "")
    assert [f.role for f in outcome.files].count("media") == 1


async def test_capture_with_a_missing_segment_is_partial_and_says_why(
    site: FixtureSite, renditions: dict[str, Path], tmp_path: Path
) -> None:
    urls = serve(site, renditions, "hls", refuse="seg1.ts")
    store = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    job = make_job(urls["index.m3u8"], tmp_path / "tmp" / "job-1")

    async with make_client(allow_private=False, allow_networks=LOCAL, timeout=5.0) as http:
        result = await capture(job, store, http)

    segments = pieces(renditions["hls"])["n"]
    assert (result.state, result.status) == (CaptureState.PARTIAL, Status.AVAILABLE)
    assert result.message == (f"media: HLS segment 2 of {segments} (…/seg1.ts) answered "
                              f"HTTP 404; {INCOMPLETE}")
    assert "media" not in {f.role for f in result.files}


# -- a short file ------------------------------------------------------------------------


async def test_file_shorter_than_the_source_states_is_not_complete(
    site: FixtureSite, renditions: dict[str, Path], tmp_path: Path
) -> None:
    serve(site, renditions, "hls")
    # Every segment is served, but the playlist says each lasts 3 s: the kept file is short.
    playlist = (renditions["hls"] / "index.m3u8").read_text(encoding="utf-8")
    lying = playlist.replace("#EXTINF:0.500000,", "#EXTINF:3.000000,")
    assert lying != playlist
    url = site.add_bytes("/hls/lying.m3u8", lying.encode(), "application/vnd.apple.mpegurl")
    stated = 3 * len(list(renditions["hls"].glob("seg*.ts")))

    outcome = await capture_media(make_job(url, tmp_path / "work"))

    assert (outcome.status, outcome.transient) == (Status.ERROR, False)
    assert outcome.message.startswith("the kept file "), outcome.message
    assert outcome.message.endswith(f"s but the source states {stated:.1f} s; "
                                    "the video is incomplete")


async def test_complete_fmp4_hls_passes_the_duration_check(
    site: FixtureSite, renditions: dict[str, Path], tmp_path: Path
) -> None:
    urls = serve(site, renditions, "hls-fmp4")

    outcome = await capture_media(make_job(urls["index.m3u8"], tmp_path / "work"))

    assert (outcome.status, outcome.message, outcome.not_checked) == (Status.AVAILABLE, "", ())
    assert [f.role for f in outcome.files].count("media") == 1


# -- a page of several videos -------------------------------------------------------------


@pytest.fixture(scope="module")
def two_lengths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """HLS renditions of a 3 s and a 9 s clip: one page's two videos of different lengths."""
    root = tmp_path_factory.mktemp("two-lengths")
    return {
        name: make_hls(make_clip(root / f"{name}.mp4", freq=freq, duration=seconds),
                       root / name).parent
        for name, freq, seconds in (("short", 330, 3), ("long", 550, 9))
    }


def two_video_page(site: FixtureSite, first: str, second: str) -> str:
    body = "".join(f'<video controls src="{u}"></video>' for u in (first, second))
    return site.add_bytes("/two.html", html_page(title="Two videos", body=body), "text/html")


async def test_each_video_of_a_page_is_held_to_its_own_length(
    site: FixtureSite, two_lengths: dict[str, Path], tmp_path: Path
) -> None:
    # The generic extractor makes a playlist of two entries (noplaylist does not stop
    # it), neither with a duration: each is checked against its own playlist's EXTINF.
    short = add_directory(site, "/short", two_lengths["short"])["index.m3u8"]
    long = add_directory(site, "/long", two_lengths["long"])["index.m3u8"]

    outcome = await capture_media(make_job(two_video_page(site, short, long), tmp_path / "work"))

    assert (outcome.status, outcome.message, outcome.not_checked) == (Status.AVAILABLE, "", ())
    assert [f.role for f in outcome.files].count("media") == 2


async def test_a_short_video_beside_another_is_still_found_short(
    site: FixtureSite, two_lengths: dict[str, Path], tmp_path: Path
) -> None:
    long = add_directory(site, "/long", two_lengths["long"])["index.m3u8"]
    add_directory(site, "/short", two_lengths["short"])
    # the short video's playlist states 3 s per segment: its file is short, the long one is not
    playlist = (two_lengths["short"] / "index.m3u8").read_text(encoding="utf-8")
    lying = playlist.replace("#EXTINF:0.500000,", "#EXTINF:3.000000,")
    assert lying != playlist
    short = site.add_bytes("/short/lying.m3u8", lying.encode(), "application/vnd.apple.mpegurl")

    outcome = await capture_media(make_job(two_video_page(site, long, short), tmp_path / "work"))

    assert (outcome.status, outcome.transient) == (Status.ERROR, False)
    assert outcome.message.startswith("the kept file HTML5MediaEmbed-two-2."), outcome.message
    assert outcome.message.endswith(INCOMPLETE)


def entry(n: int, home: Path, url: str, *, duration: float | None = None) -> dict[str, object]:
    return {"duration": duration, "requested_downloads": [
        {"format_id": "hls", "url": url, "filepath": str(home / f"v{n}.mp4")}]}


def test_an_entry_is_held_to_its_own_playlist_never_the_longest(
    tmp_path: Path, media: Media
) -> None:
    ffprobe = find_ffprobe(FFMPEG)
    for n in (1, 2):  # two 2 s files
        shutil.copy(media.mp4, tmp_path / f"v{n}.mp4")
    gaps = Gaps()
    gaps.playlists, gaps.downloads = {"https://a/1.m3u8": 2.0, "https://a/2.m3u8": 30.0}, 2
    info = {"_type": "playlist", "entries": [
        entry(1, tmp_path, "https://a/1.m3u8"), entry(2, tmp_path, "https://a/2.m3u8", duration=2.0)]}
    assert short_entries(info, tmp_path, gaps, ffprobe) == DurationCheck()

    # the second entry's own playlist states 30 s: its file is short
    info["entries"][1]["duration"] = None  # type: ignore[index]
    short = short_entries(info, tmp_path, gaps, ffprobe).short
    assert short is not None and short.startswith("the kept file v2.mp4 lasts 2.0 s but the "
                                                  "source states 30.0 s")

    # neither download names a playlist read: with two downloads, no entry states a length
    info = {"_type": "playlist", "entries": [entry(1, tmp_path, "x"), entry(2, tmp_path, "y")]}
    check = short_entries(info, tmp_path, gaps, ffprobe)
    assert (check.short, check.not_checked) == (None, None)
    # with one download and one playlist, that playlist is the entry's
    gaps.playlists, gaps.downloads = {"https://a/2.m3u8": 30.0}, 1
    assert short_entries(entry(1, tmp_path, "x"), tmp_path, gaps, ffprobe).short is not None


def test_an_unreadable_file_does_not_pass_the_others(tmp_path: Path, media: Media) -> None:
    ffprobe = find_ffprobe(FFMPEG)
    unreadable = tmp_path / "garbage.mp4"
    unreadable.write_bytes(b"not a video")
    # the clip lasts 2 s; 3.2 s stated makes it short even after the unreadable file
    check = short_media([unreadable, media.mp4], 3.2, ffprobe)
    assert check.short is not None and check.short.startswith(f"the kept file {media.mp4.name}")
    check = short_media([unreadable, media.mp4], 2.0, ffprobe)
    assert (check.short, check.not_checked) == (
        None, "duration not checked: ffprobe could not read garbage.mp4")


def test_duration_within_tolerance_passes_and_beyond_is_short(media: Media) -> None:
    ffprobe = find_ffprobe(FFMPEG)
    assert ffprobe is not None
    # the clip lasts 2 s: 1 s of tolerance (2 % is less)
    assert short_media([media.mp4], 2.9, ffprobe).short is None
    short = short_media([media.mp4], 3.2, ffprobe).short
    assert short is not None and short.startswith(f"the kept file {media.mp4.name} lasts 2.0 s")


def test_without_ffprobe_the_duration_is_not_checked(media: Media) -> None:
    check = short_media([media.mp4], 60, None)
    assert (check.short, check.not_checked) == (None, "duration not checked: ffprobe not found")


def test_no_stated_duration_claims_nothing(media: Media) -> None:
    for stated in (None, 0, "60", True):
        check = short_media([media.mp4], stated, None)
        assert (check.short, check.not_checked) == (None, None)


def test_a_selected_stream_without_its_file_is_missing(tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(b"video")
    info = {"requested_downloads": [{
        "format_id": "137+140", "filepath": str(tmp_path / "merged.mp4"),
        "requested_formats": [{"format_id": "137", "filepath": str(tmp_path / "v.mp4")}]}]}
    assert missing_streams(info, tmp_path) == (
        "format 137+140 was selected but its file merged.mp4 is missing; the video is incomplete")
    (tmp_path / "merged.mp4").write_bytes(b"merged")
    assert missing_streams(info, tmp_path) is None


def test_each_entry_of_a_playlist_is_checked_for_missing_streams(tmp_path: Path) -> None:
    (tmp_path / "v1.mp4").write_bytes(b"video")
    info = {"_type": "playlist", "entries": [entry(1, tmp_path, "a"), entry(2, tmp_path, "b")]}
    assert missing_streams(info, tmp_path) == (
        "format hls was selected but its file v2.mp4 is missing; the video is incomplete")


def test_playlist_lists_init_segments_keys_and_duration() -> None:
    text = (
        "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n"
        "#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k?t=1\",IV=0x01\n"
        "#EXTINF:4.5,\na/seg0.m4s\n#EXTINF:bad,\nseg1.m4s\n#EXTINF:2,title\n"
        "/abs/seg2.m4s\n#EXT-X-ENDLIST\n"
    )
    p = Playlist.parse(text, "https://cdn.example/v/index.m3u8")
    assert p.init == {"https://cdn.example/v/init.mp4"}
    assert p.keys == {"https://keys.example/k?t=1"}
    assert p.segments == ("https://cdn.example/v/a/seg0.m4s", "https://cdn.example/v/seg1.m4s",
                          "https://cdn.example/abs/seg2.m4s")
    assert p.seconds == 6.5
