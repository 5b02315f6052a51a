"""capture(): page snapshot and media in parallel, files into the store, one result.

The media part is the real yt-dlp against the fixture site; the store is the
real LocalBlobStore, except for one disk-full case, which uses a fake store whose
``put_file`` raises ``StorageUnavailable``; another fills a real tmpfs (root only).
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import importlib
import json
import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from warcio.archiveiterator import ArchiveIterator

from storage.errors import StorageUnavailable
from storage.local import LocalBlobStore
from tests.support.fixture_site import FixtureSite, Media, html_page, video_tag_page
from tests.support.jobs import capture_job
from tests.support.tls import make_pki
from workers._verdict import _decide
from workers.capture import _media_name, capture, file_base
from workers.errors import StoreFailed
from workers.media import MediaFile, MediaOutcome
from workers.net import make_client
from workers.page import PageOutcome
from workers.types import CapturedFile, CaptureJob, CaptureState, Status

# The module, not the function that ``workers`` re-exports under the same name.
capture_module = importlib.import_module("workers.capture")
LOOPBACK = ("127.0.0.1/32",)
MOMENT = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)




def page_records(store: LocalBlobStore, f: CapturedFile) -> list[Any]:
    with store.open(f.sha256) as blob:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
                for r in ArchiveIterator(blob, check_digests="raise")]


async def test_direct_mp4_stores_media_and_page(
    tmp_path: Path, site: FixtureSite, media: Media, store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    url = site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    job = capture_job(tmp_path, url)
    result = await capture(job, store, http, clock=lambda: MOMENT)
    assert (result.state, result.status, result.message) == (
        CaptureState.COMPLETE, Status.AVAILABLE, "")
    assert not result.transient
    base = file_base(job.target_key)
    by_role = {f.role: f for f in result.files}
    assert by_role["media"].sha256 == media.sha256("mp4")
    assert by_role["media"].size == media.mp4.stat().st_size
    assert by_role["media"].name == f"{base}.media.mp4"
    assert by_role["media"].media_type == "video/mp4"
    page = by_role["page"]
    assert (page.name, page.media_type) == (f"{base}.page.warc.gz", "application/warc")
    for f in result.files:
        with store.open(f.sha256) as blob:
            assert hashlib.sha256(blob.read()).hexdigest() == f.sha256
    records = page_records(store, page)
    assert [r[0] for r in records] == ["warcinfo", "response", "request"]
    assert records[1][1] == url
    assert records[1][2] == b""  # headers only: the media part downloads the bytes, once
    assert result.started_at == result.finished_at == "2026-03-04T05:06:07.890000Z"
    assert not job.work_dir.exists()
    # the collection record: the page's server over http, the download's own response
    assert result.collection["page"] == {
        "url": url, "http_status": 200, "ip_address": "127.0.0.1", "tls": None}
    (response,) = result.collection["media_response"]
    assert (response["kind"], response["url"], response["http_status"]) == ("file", url, 200)
    assert ["Content-Type", "video/mp4"] in response["headers"]
    assert json.loads(json.dumps(result.collection)) == result.collection


async def test_link_404_fails_not_found(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    job = capture_job(tmp_path, site.url("/v/missing.mp4"))
    result = await capture(job, store, http)
    assert (result.state, result.status) == (CaptureState.FAILED, Status.NOT_FOUND)
    assert result.message == "HTTP 404 Not Found" and not result.transient
    # the 404 response itself is kept as evidence of the removal, nothing else
    assert [f.role for f in result.files] == ["page"]
    assert list(store.iter_blobs()) == [result.files[0].sha256]
    records = page_records(store, result.files[0])
    response = [r for r in records if r[0] == "response"]
    assert response[0][1] == job.url
    with store.open(result.files[0].sha256) as blob:
        statuses = [r.http_headers.get_statuscode() for r in ArchiveIterator(blob)
                    if r.rec_type == "response"]
    assert statuses == ["404"]
    assert not job.work_dir.exists()
    assert result.started_at.endswith("Z") and result.finished_at >= result.started_at


async def test_web_page_without_media_is_complete(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    html = b"<html><head><title>statement</title></head><body><p>text</p></body></html>"
    url = site.add_bytes("/statement.html", html, "text/html")
    result = await capture(capture_job(tmp_path, url), store, http)
    assert (result.state, result.status) == (CaptureState.COMPLETE, Status.AVAILABLE)
    assert [f.role for f in result.files] == ["page"]
    assert page_records(store, result.files[0])[1][2] == html
    assert result.resolved_url == url


async def test_https_page_keeps_the_servers_certificate_chain(
    tmp_path: Path, store: LocalBlobStore
) -> None:
    """The https fixture site's certificate comes from a test CA that only this test's
    client trusts (``make_client(verify=…)``); yt-dlp's child does not, so its part
    fails and the capture is partial: the page, its WARC and its certificates."""
    pki = make_pki(tmp_path / "pki")
    site = FixtureSite.start(tls=pki.server_context())
    try:
        url = site.add_bytes("/statement", html_page(body="<p>text</p>"), "text/html")
        job = capture_job(tmp_path, url)
        async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=5.0,
                               verify=pki.client_context()) as http:
            result = await capture(job, store, http)
    finally:
        site.close()
    base = file_base(job.target_key)
    tls = [f for f in result.files if f.role == "tls"]
    assert [(f.name, f.media_type) for f in tls] == [(f"{base}.tls.pem", "application/x-pem-file")]
    with store.open(tls[0].sha256) as blob:
        certs = x509.load_pem_x509_certificates(blob.read())
    der = serialization.Encoding.DER
    assert [c.public_bytes(der) for c in certs] == [
        c.public_bytes(der) for c in (pki.server, pki.intermediate, pki.root)]
    page = result.collection["page"]
    assert {k: page[k] for k in ("url", "http_status", "ip_address")} == {
        "url": url, "http_status": 200, "ip_address": "127.0.0.1"}
    assert page["tls"]["file"] == f"{base}.tls.pem"
    assert (page["tls"]["chain"], page["tls"]["certificates"]) == ("verified", 3)
    assert page["tls"]["version"] in ("TLSv1.2", "TLSv1.3") and page["tls"]["cipher"]
    assert result.collection["media_response"] == []  # yt-dlp never got to download
    assert result.state is CaptureState.PARTIAL and "CERTIFICATE_VERIFY_FAILED" in result.message


async def test_untrusted_https_page_keeps_no_certificates(
    tmp_path: Path, store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    pki = make_pki(tmp_path / "pki")
    site = FixtureSite.start(tls=pki.server_context(self_signed=True))
    try:
        url = site.add_bytes("/statement", html_page(), "text/html")
        result = await capture(capture_job(tmp_path, url), store, http)
    finally:
        site.close()
    assert (result.state, result.files) == (CaptureState.FAILED, ())
    assert "page" not in result.collection  # no server answered
    assert result.collection["media_response"] == []


class DiskFullStore:
    """A fake store (only ``put_file`` is used here): the disk is full."""

    def __init__(self) -> None:
        self.calls = 0

    def put_file(self, path: str, *, max_bytes: int | None = None, known: Any = None) -> Any:
        self.calls += 1
        raise StorageUnavailable("cannot write blob: [Errno 28] No space left on device")

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"capture() must not call store.{name}")


async def test_disk_full_store_propagates(
    tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient
) -> None:
    url = site.add_bytes("/p.html", b"<html><body>x</body></html>", "text/html")
    job = capture_job(tmp_path, url)
    fake = DiskFullStore()
    name = r"web-[0-9a-f]{16}\.page\.warc\.gz"
    with pytest.raises(StoreFailed, match=rf"could not store {name}: .*No space left"):
        await capture(job, fake, http)
    assert fake.calls == 1
    assert not job.work_dir.exists()


async def test_disk_full_in_work_dir_propagates(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def full(url: str, *, out: BinaryIO, **kwargs: Any) -> PageOutcome:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(capture_module, "snapshot_page", full)
    job = capture_job(tmp_path, site.url("/nothing"))
    with pytest.raises(StoreFailed, match="work directory unusable .*No space left"):
        await capture(job, store, http)
    assert not job.work_dir.exists()


async def test_full_disk_under_yt_dlp_keeps_nothing(
    small_disk: tuple[Path, bool], site: FixtureSite, media: Media, http: httpx.AsyncClient,
) -> None:
    """A real full disk (tmpfs): the page fits, the video yt-dlp downloads does not. Not a
    partial capture of the link: ``StoreFailed``, nothing stored, the work dir gone."""
    where, mounted = small_disk
    if not mounted:
        pytest.skip("a real full disk needs a tmpfs, which only root may mount here")
    store = LocalBlobStore(where / "blobs", where / "tmp")
    video = site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    url = site.add_bytes("/post.html", video_tag_page(video), "text/html")
    job = capture_job(where, url)
    st = os.statvfs(where)
    (where / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize - 20 * 1024))
    try:
        result = await capture(job, store, http)
    except StoreFailed as exc:
        assert re.search("media not kept: .*No space left on device", str(exc)), exc
    else:  # what it kept instead, to say why
        pytest.fail(f"a capture on a full disk: {result.state} {result.status} "
                    f"{result.message!r}, files {[f.name for f in result.files]}")
    assert list(store.iter_blobs()) == []
    assert not job.work_dir.exists()


async def test_media_crash_keeps_the_page(
    tmp_path: Path, site: FixtureSite, store: LocalBlobStore, http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(job: CaptureJob) -> MediaOutcome:
        raise RuntimeError("bug in media")

    monkeypatch.setattr(capture_module, "capture_media", broken)
    url = site.add_bytes("/p.html", b"<html><body>x</body></html>", "text/html")
    with caplog.at_level(logging.ERROR, logger="workers.capture"):
        result = await capture(capture_job(tmp_path, url), store, http)
    assert (result.state, result.status) == (CaptureState.PARTIAL, Status.AVAILABLE)
    assert result.message == "media: media capture failed: RuntimeError"
    assert [f.role for f in result.files] == ["page"]
    assert any(r.exc_info and "bug in media" in str(r.exc_info[1]) for r in caplog.records)


async def test_page_crash_keeps_the_media(
    tmp_path: Path, site: FixtureSite, media: Media, store: LocalBlobStore,
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(url: str, **kwargs: Any) -> PageOutcome:
        raise RuntimeError("bug in page")

    monkeypatch.setattr(capture_module, "snapshot_page", broken)
    url = site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    result = await capture(capture_job(tmp_path, url), store, http)
    assert (result.state, result.status) == (CaptureState.PARTIAL, Status.AVAILABLE)
    assert [f.role for f in result.files if f.role == "media"] == ["media"]
    assert "page" not in {f.role for f in result.files}


# -- the decision table, as a pure function ---------------------------------------------


def page_outcome(status: Status = Status.AVAILABLE, transient: bool = False) -> PageOutcome:
    code = {Status.AVAILABLE: 200, Status.NOT_FOUND: 404}.get(status, 503)
    return PageOutcome(status=status, message="" if code == 200 else f"HTTP {code}",
                       transient=transient, http_status=code, final_url="u",
                       content_type="text/html", body_bytes=1, truncated=False, hops=1)


def media_outcome(
    status: Status = Status.AVAILABLE, *, transient: bool = False, no_media: bool = False,
    message: str = "",
) -> MediaOutcome:
    return MediaOutcome(status=status, message=message, transient=transient, files=(),
                        metadata={}, resolved_url=None, no_media=no_media)


def stored(*roles: str) -> list[CapturedFile]:
    return [CapturedFile(role=r, name=r, sha256="0" * 64, size=1, media_type="x") for r in roles]


YT = "youtube"
REMOVED = "This video has been removed by the uploader"


@pytest.mark.parametrize(
    ("platform", "page", "media", "files", "expected"),
    [
        (YT, page_outcome(), media_outcome(), stored("media", "page"),
         (CaptureState.COMPLETE, Status.AVAILABLE, "", False)),
        (YT, page_outcome(Status.ERROR, True), media_outcome(), stored("media"),
         (CaptureState.COMPLETE, Status.AVAILABLE, "", False)),
        (YT, page_outcome(), media_outcome(Status.REMOVED_UPLOADER, message=REMOVED),
         stored("page"), (CaptureState.PARTIAL, Status.REMOVED_UPLOADER, REMOVED, False)),
        (YT, page_outcome(Status.ERROR, True),
         media_outcome(Status.REMOVED_UPLOADER, message=REMOVED), [],
         (CaptureState.FAILED, Status.REMOVED_UPLOADER, REMOVED, True)),
        (YT, page_outcome(), media_outcome(Status.RATE_LIMITED, transient=True, message="bot"),
         stored("page"), (CaptureState.PARTIAL, Status.RATE_LIMITED, "bot", True)),
        (YT, page_outcome(), media_outcome(no_media=True), stored("page"),
         (CaptureState.PARTIAL, Status.UNKNOWN, "no media found at this link", False)),
        ("web", page_outcome(), media_outcome(no_media=True), stored("page"),
         (CaptureState.COMPLETE, Status.AVAILABLE, "", False)),
        ("web", page_outcome(), media_outcome(), stored("media", "page"),
         (CaptureState.COMPLETE, Status.AVAILABLE, "", False)),
        ("web", page_outcome(), media_outcome(Status.ERROR, transient=True, message="HTTP 503"),
         stored("page"), (CaptureState.PARTIAL, Status.AVAILABLE, "media: HTTP 503", True)),
        ("web", page_outcome(Status.NOT_FOUND), media_outcome(Status.NOT_FOUND), [],
         (CaptureState.FAILED, Status.NOT_FOUND, "HTTP 404", False)),
        ("web", page_outcome(Status.ERROR, True), media_outcome(Status.ERROR), [],
         (CaptureState.FAILED, Status.ERROR, "HTTP 503", True)),
        ("web", page_outcome(Status.ERROR, True), media_outcome(), stored("media"),
         (CaptureState.PARTIAL, Status.AVAILABLE, "HTTP 503", False)),
    ],
)
def test_decision_table(
    tmp_path: Path, platform: str, page: PageOutcome, media: MediaOutcome,
    files: list[CapturedFile], expected: tuple[CaptureState, Status, str, bool],
) -> None:
    job = capture_job(tmp_path, "https://example.org/", platform=platform,
                   key="youtube:45WIwFETn3E" if platform == YT else None)
    assert _decide(job, page, media, files) == expected


# -- names never come from remote text --------------------------------------------------


@pytest.mark.parametrize(
    ("key", "base"),
    [
        ("youtube:45WIwFETn3E", "youtube-45WIwFETn3E"),
        ("facebook:10153231379946729", "facebook-10153231379946729"),
        ("facebook:pfbid02abcXYZ", "facebook-pfbid02abcXYZ"),
        ("facebook-url:https://fb.watch/abc/", "facebook-url-"
         + hashlib.sha256(b"https://fb.watch/abc/").hexdigest()[:16]),
        ("web:https://example.org/a",
         "web-" + hashlib.sha256(b"https://example.org/a").hexdigest()[:16]),
        ("youtube:../../etc", "youtube-" + hashlib.sha256(b"../../etc").hexdigest()[:16]),
        ("Weird Kind:x", "target-" + hashlib.sha256(b"x").hexdigest()[:16]),
    ],
)
def test_file_base(key: str, base: str) -> None:
    assert file_base(key) == base


def test_media_names_are_unique_and_safe() -> None:
    taken: set[str] = set()
    files = [
        MediaFile(path=Path("w/Title_../../x.mp4"), role="media", media_type="video/mp4"),
        MediaFile(path=Path("w/45WIwFETn3E.ar.vtt"), role="subtitle", media_type="text/vtt"),
        MediaFile(path=Path("w/45WIwFETn3E.ar.vtt.x.vtt"), role="subtitle", media_type="text/vtt"),
        MediaFile(path=Path("w/45WIwFETn3E.info.json"), role="info", media_type="application/json"),
        MediaFile(path=Path("w/45WIwFETn3E.f137.mp4"), role="component", media_type="video/mp4"),
        MediaFile(path=Path("w/45WIwFETn3E.f140.m4a"), role="component", media_type="audio/mp4"),
        MediaFile(path=Path("w/45WIwFETn3E.weird ext!"), role="other", media_type="x"),
        MediaFile(path=Path("w/a.webp"), role="thumbnail", media_type="image/webp"),
        MediaFile(path=Path("w/b.webp"), role="thumbnail", media_type="image/webp"),
    ]
    names = [_media_name("youtube-45WIwFETn3E", f, taken) for f in files]
    assert names == [
        "youtube-45WIwFETn3E.media.mp4",
        "youtube-45WIwFETn3E.subtitle-ar.vtt",
        "youtube-45WIwFETn3E.subtitle-x.vtt",
        "youtube-45WIwFETn3E.info.json",
        "youtube-45WIwFETn3E.component.mp4",
        "youtube-45WIwFETn3E.component.m4a",
        "youtube-45WIwFETn3E.other.bin",
        "youtube-45WIwFETn3E.thumbnail.webp",
        "youtube-45WIwFETn3E.thumbnail-2.webp",
    ]


async def test_no_stored_file_holds_a_cookie(
    tmp_path: Path, site: FixtureSite, media: Media, store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    """yt-dlp records a site's cookies per format in its info JSON, and the page's
    response carries Set-Cookie: neither may reach the store."""
    secret = b"SECRET-SESSION-4f1c"
    cookie = {"Set-Cookie": f"session={secret.decode()}; Path=/"}
    site.add_bytes("/v/with-cookie.mp4", media.mp4.read_bytes(), "video/mp4", headers=cookie)
    result = await capture(capture_job(tmp_path, site.url("/v/with-cookie.mp4")), store, http)
    assert result.state is CaptureState.COMPLETE
    assert {f.role for f in result.files} >= {"media", "info", "page"}
    for f in result.files:
        with store.open(f.sha256) as blob:
            data = blob.read()
        if f.name.endswith(".gz"):
            data = gzip.decompress(data)
        assert secret not in data, f.name
