"""Hashing the media as yt-dlp writes it (workers._media_hashing), with the real yt-dlp
against the fixture site: the child's digest is the served bytes' SHA-256 and the store
uses it without a second read; what is merged by ffmpeg, resumed, or changed after the
child closed it is read and hashed instead."""

from __future__ import annotations

import hashlib
import os
import random
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from storage import LocalBlobStore
from tests.support.fixture_site import FixtureSite, Media, add_directory, make_dash, make_hls
from tests.support.jobs import capture_job
from workers._media_hashing import Digests, report, writing_digests
from workers.media import MediaFile, MediaOutcome, capture_media
from workers.types import Status


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def only(outcome: MediaOutcome, role: str) -> MediaFile:
    files = [f for f in outcome.files if f.role == role]
    assert len(files) == 1, outcome.files
    return files[0]


def served_bytes(tmp_path: Path, size: int = 3 << 20) -> Path:
    """A body larger than yt-dlp's first blocks, so it is written in many pieces."""
    path = tmp_path / "served.mp4"
    path.write_bytes(random.Random(12).randbytes(size))
    return path


async def test_the_child_hashes_the_served_bytes_as_it_writes_them(
        site: FixtureSite, store: LocalBlobStore, tmp_path: Path) -> None:
    served = served_bytes(tmp_path)
    url = site.add_large("/videos/large.mp4", served, "video/mp4")
    job = capture_job(tmp_path, url)

    outcome = await capture_media(job)

    assert outcome.status is Status.AVAILABLE, outcome.message
    media = only(outcome, "media")
    assert media.known is not None
    assert media.known.sha256 == sha(served.read_bytes())
    assert media.known.matches(os.lstat(media.path))  # the file as it is now, after the rename
    blob = store.put_file(media.path, known=media.known)
    assert (blob.sha256, blob.size) == (media.known.sha256, served.stat().st_size)
    assert store.rehash(blob.sha256) == blob.sha256


async def test_a_file_changed_after_the_child_closed_it_is_read(
        site: FixtureSite, store: LocalBlobStore, tmp_path: Path, media: Media) -> None:
    url = site.add_file("/clip.mp4", media.mp4, "video/mp4")
    job = capture_job(tmp_path, url)
    outcome = await capture_media(job)
    file = only(outcome, "media")
    assert file.known is not None and file.known.sha256 == media.sha256("mp4")

    with file.path.open("ab") as f:
        f.write(b"appended after the child")

    blob = store.put_file(file.path, known=file.known)
    assert blob.sha256 == sha(media.mp4.read_bytes() + b"appended after the child")


async def test_a_file_replaced_after_the_child_closed_it_is_read(
        site: FixtureSite, store: LocalBlobStore, tmp_path: Path, media: Media) -> None:
    url = site.add_file("/clip.mp4", media.mp4, "video/mp4")
    job = capture_job(tmp_path, url)
    outcome = await capture_media(job)
    file = only(outcome, "media")
    assert file.known is not None

    swap = file.path.with_name("swap")
    swap.write_bytes(media.mp4_b.read_bytes())
    os.replace(swap, file.path)

    assert store.put_file(file.path, known=file.known).sha256 == media.sha256("mp4_b")


@pytest.mark.slow
async def test_hls_digest_is_of_the_segments_as_served(
        site: FixtureSite, store: LocalBlobStore, tmp_path: Path, media: Media) -> None:
    hls = make_hls(media.mp4, tmp_path / "hls").parent
    urls = add_directory(site, "/hls", hls)
    segments = sorted(hls.glob("seg*.ts"), key=lambda p: int(p.stem[3:]))
    job = capture_job(tmp_path, urls["index.m3u8"])

    outcome = await capture_media(job)

    assert outcome.status is Status.AVAILABLE, outcome.message
    stream = only(outcome, "media")
    expected = sha(b"".join(s.read_bytes() for s in segments))
    # the fragment downloader appends each segment in order to one stream: hashed as written
    assert stream.known is not None and stream.known.sha256 == expected
    assert store.put_file(stream.path, known=stream.known).sha256 == expected


@pytest.mark.slow
async def test_a_merged_output_is_read_and_its_streams_hashed_as_written(
        site: FixtureSite, store: LocalBlobStore, tmp_path: Path, media: Media) -> None:
    dash = make_dash(media.mp4, tmp_path / "dash").parent
    urls = add_directory(site, "/dash", dash)
    job = capture_job(tmp_path, urls["manifest.mpd"])

    outcome = await capture_media(job)

    assert outcome.status is Status.AVAILABLE, outcome.message
    merged = only(outcome, "media")
    assert merged.known is None  # written by ffmpeg, not through a hashing stream
    merged_sha = sha(merged.path.read_bytes())
    assert store.put_file(merged.path).sha256 == merged_sha

    def served(n: int) -> bytes:  # init segment, then media segments in order
        parts = sorted(dash.glob(f"*-stream{n}*"),
                       key=lambda p: (not p.name.startswith("init"), p.name))
        return b"".join(p.read_bytes() for p in parts)

    components = [f for f in outcome.files if f.role == "component"]
    assert {f.known.sha256 for f in components if f.known} == {sha(served(0)), sha(served(1))}
    for f in components:
        assert f.known is not None
        assert store.put_file(f.path, known=f.known).sha256 == f.known.sha256


def _drops_then_resumes(body: bytes) -> tuple[list[str], object]:
    """A GET of the whole body ends the connection halfway; one with ``Range`` gets the
    rest (206). yt-dlp's extractor reads only the start of the first response."""
    ranges: list[str] = []

    def handler(req: BaseHTTPRequestHandler) -> None:
        asked = req.headers.get("Range")
        ranges.append(asked or "")
        start = int(asked.removeprefix("bytes=").split("-")[0]) if asked else 0
        req.send_response(206 if start else 200)
        req.send_header("Content-Type", "video/mp4")
        req.send_header("Accept-Ranges", "bytes")
        req.send_header("Content-Length", str(len(body) - start))
        if start:
            req.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        req.end_headers()
        if req.command == "HEAD":
            return
        if not start:
            req.wfile.write(body[: len(body) // 2])
            req.wfile.flush()
            req.close_connection = True
            return
        req.wfile.write(body[start:])

    return ranges, handler


async def test_a_resumed_download_is_not_trusted(
        site: FixtureSite, store: LocalBlobStore, tmp_path: Path) -> None:
    body = random.Random(7).randbytes(2 << 20)
    ranges, handler = _drops_then_resumes(body)
    url = site.add("/videos/dropped.mp4", handler)  # type: ignore[arg-type]
    job = capture_job(tmp_path, url)

    outcome = await capture_media(job)

    assert outcome.status is Status.AVAILABLE, outcome.message
    assert any(r.startswith("bytes=") and r != "bytes=0-" for r in ranges), ranges  # resumed
    media = only(outcome, "media")
    assert media.path.read_bytes() == body
    assert media.known is None  # appended to ("ab"): the digest of half a file says nothing
    assert store.put_file(media.path, known=media.known).sha256 == sha(body)



# -- the wrapper's rules, on yt-dlp's own FileDownloader.sanitize_open ---------------------


def _open(path: Path, mode: str) -> Any:
    from yt_dlp import YoutubeDL
    from yt_dlp.downloader.common import FileDownloader

    downloader = FileDownloader(YoutubeDL({"quiet": True}), {})
    return downloader.sanitize_open(str(path), mode)[0]


def _digest_of(digests: Digests, path: Path) -> str | None:
    entries = {e["path"]: e["sha256"] for e in report(digests, path.parent)}
    return entries.get(path.name)


def test_a_stream_written_whole_in_order_has_its_digest(tmp_path: Path) -> None:
    digests, path = Digests(), tmp_path / "a.mp4"
    with writing_digests(digests):
        stream = _open(path, "wb")
        stream.write(b"first ")
        stream.write(memoryview(b"second"))
        stream.close()
    assert _digest_of(digests, path) == sha(b"first second")


@pytest.mark.parametrize("meddle", ["seek", "truncate"])
def test_a_stream_that_seeked_or_truncated_has_none(tmp_path: Path, meddle: str) -> None:
    digests, path = Digests(), tmp_path / "a.mp4"
    with writing_digests(digests):
        stream = _open(path, "wb")
        stream.write(b"0123456789")
        if meddle == "seek":
            stream.seek(2)
            stream.write(b"xx")
        else:
            stream.truncate(4)
        stream.close()
    assert _digest_of(digests, path) is None


def test_reopening_for_append_drops_the_digest(tmp_path: Path) -> None:
    digests, path = Digests(), tmp_path / "a.mp4"
    with writing_digests(digests):
        stream = _open(path, "wb")
        stream.write(b"half")
        stream.close()
        assert _digest_of(digests, path) == sha(b"half")
        appended = _open(path, "ab")
        appended.write(b" and the rest")
        appended.close()
    assert _digest_of(digests, path) is None
    assert path.read_bytes() == b"half and the rest"


def test_a_file_written_again_outside_the_streams_has_none(tmp_path: Path) -> None:
    digests, path = Digests(), tmp_path / "a.mp4"
    with writing_digests(digests):
        stream = _open(path, "wb")
        stream.write(b"as downloaded")
        stream.close()
    path.write_bytes(b"rewritten by someone else")
    assert _digest_of(digests, path) is None


def test_the_patch_is_undone(tmp_path: Path) -> None:
    from yt_dlp.downloader.common import FileDownloader

    before = FileDownloader.__dict__["sanitize_open"]
    with writing_digests(Digests()):
        assert FileDownloader.__dict__["sanitize_open"] is not before
    assert FileDownloader.__dict__["sanitize_open"] is before
    stream = _open(tmp_path / "b.mp4", "wb")
    stream.close()
    assert type(stream).__name__ != "_HashingFile"



def test_a_stream_whose_file_was_opened_again_meanwhile_has_none(tmp_path: Path) -> None:
    """Two write streams on one file at once: the second truncated it and wrote bytes of
    the same length, so the first one's digest, at its close, is not of the file."""
    digests, path = Digests(), tmp_path / "a.mp4"
    with writing_digests(digests):
        first = _open(path, "wb")
        first.write(b"0123456789")
        first.flush()
        second = _open(path, "wb")
        second.write(b"xxxxxxxxxx")
        second.close()
        assert _digest_of(digests, path) == sha(b"xxxxxxxxxx")
        first.close()
    assert path.read_bytes() == b"xxxxxxxxxx"
    assert _digest_of(digests, path) is None
