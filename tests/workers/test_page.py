"""snapshot_page: WARC/1.1 records per hop, bounded reads, statuses for every failure."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.support.fixture_site import FixtureSite
from tests.support.http_cases import HTTP_CASES
from workers.net import make_client
from workers.page import PageOutcome, snapshot_page
from workers.types import Status

LOOPBACK = ("127.0.0.1/32",)
FIXED = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@dataclass
class Record:
    type: str
    headers: dict[str, str]
    http: dict[str, str]
    statusline: str  # the HTTP first line
    payload: bytes  # as stored (raw, still content-encoded)
    content: bytes  # as warcio decodes it for readers


def read_warc(path: Path) -> list[Record]:
    """Read every record back, verifying each digest as warcio does (raises on a mismatch)."""
    records = []
    with path.open("rb") as f:
        for rec in ArchiveIterator(f, check_digests="raise"):
            payload = rec.raw_stream.read()
            assert rec.digest_checker.passed is True, rec.rec_headers
            http = dict(rec.http_headers.headers) if rec.http_headers else {}
            first = rec.http_headers
            statusline = f"{first.protocol} {first.statusline}" if first else ""
            records.append(
                Record(rec.rec_type, dict(rec.rec_headers.headers), http, statusline, payload, b"")
            )
    with path.open("rb") as f:
        for rec, record in zip(ArchiveIterator(f), records, strict=True):
            record.content = rec.content_stream().read()
    return records


def warcio_check(path: Path) -> None:
    exe = str(Path(sys.executable).parent / "warcio")
    exe = exe if Path(exe).exists() else shutil.which("warcio") or ""
    if not exe:
        pytest.skip("warcio CLI not installed")
    done = subprocess.run(
        [exe, "check", "-v", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "digest pass" in done.stdout


def sha256_label(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=5.0) as c:
        yield c


class Snap:
    """Runs snapshot_page into a file under tmp_path with a fixed clock and counted ids."""

    def __init__(self, tmp_path: Path, client: httpx.AsyncClient) -> None:
        self.path = tmp_path / "page.warc.gz"
        self.client = client
        self.ids = (f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>" for n in range(1000))

    async def __call__(self, url: str, **kwargs: Any) -> PageOutcome:
        options: dict[str, Any] = {"max_bytes": 1 << 20, "deadline": 20.0, **kwargs}
        with self.path.open("wb") as out:
            return await snapshot_page(
                url, client=self.client, out=out, tmp_dir=self.path.parent,
                clock=lambda: FIXED, record_id=lambda: next(self.ids), **options,
            )

    def records(self) -> list[Record]:
        return read_warc(self.path)


@pytest.fixture
def snap(tmp_path: Path, client: httpx.AsyncClient) -> Snap:
    return Snap(tmp_path, client)


HTML = b"<!doctype html><html><body><h1>\xd8\xaf\xd9\x88\xd9\x85\xd8\xa7</h1></body></html>"


async def test_redirect_chain_is_recorded(site: FixtureSite, snap: Snap) -> None:
    site.add_bytes("/page", HTML, "text/html; charset=utf-8")
    site.add_redirect("/b", "/page", status=301)
    site.add_redirect("/a", site.url("/b"))
    outcome = await snap(site.url("/a"))
    assert outcome == PageOutcome(
        status=Status.AVAILABLE, message="", transient=False, http_status=200,
        final_url=site.url("/page"), content_type="text/html; charset=utf-8",
        body_bytes=len(HTML), truncated=False, hops=3, ip_address="127.0.0.1", tls=None,
    )
    records = snap.records()
    assert [r.type for r in records] == ["warcinfo"] + ["response", "request"] * 3
    uris = [r.headers["WARC-Target-URI"] for r in records[1::2]]
    assert uris == [site.url("/a"), site.url("/b"), site.url("/page")]
    assert [r.statusline for r in records[1::2]] == [
        "HTTP/1.1 302 Found", "HTTP/1.1 301 Moved Permanently", "HTTP/1.1 200 OK"]
    assert [r.statusline for r in records[2::2]] == ["GET /a HTTP/1.1", "GET /b HTTP/1.1",
                                                     "GET /page HTTP/1.1"]
    for response, request in zip(records[1::2], records[2::2], strict=True):
        assert request.headers["WARC-Concurrent-To"] == response.headers["WARC-Record-ID"]
        assert response.headers["WARC-IP-Address"] == "127.0.0.1"
    assert all(r.headers["WARC-Date"] == "2026-01-02T03:04:05.678901Z" for r in records)
    ids = [r.headers["WARC-Record-ID"] for r in records]
    assert ids[0] == "<urn:uuid:00000000-0000-4000-8000-000000000000>" and len(set(ids)) == 7
    assert all(r.headers["WARC-Warcinfo-ID"] == ids[0] for r in records[1:])
    final = records[5]
    assert final.payload == HTML
    assert final.headers["WARC-Payload-Digest"] == sha256_label(HTML)
    assert "WARC-Truncated" not in final.headers
    warcio_check(snap.path)


async def test_warcinfo_says_what_was_changed(site: FixtureSite, snap: Snap) -> None:
    site.add_bytes("/p", HTML, "text/html")
    await snap(site.url("/p"))
    info = snap.records()[0]
    assert info.headers["WARC-Type"] == "warcinfo"
    assert info.headers["Content-Type"] == "application/warc-fields"
    text = info.payload.decode()
    assert "format: WARC File Format 1.1" in text
    assert "software: preserver/" in text
    assert "Set-Cookie" in text and "[removed]" in text


async def test_cookies_and_credentials_are_removed(site: FixtureSite, tmp_path: Path) -> None:
    site.add_bytes("/p", HTML, "text/html", headers={"Set-Cookie": "session=s3cret; HttpOnly"})
    async with make_client(allow_private=False, allow_networks=LOOPBACK) as c:
        c.headers["Authorization"] = "Bearer t0ken"
        c.headers["Cookie"] = "pref=c00kie"
        snap = Snap(tmp_path, c)
        await snap(site.url("/p"))
    assert site.hits[0].headers["Authorization"] == "Bearer t0ken"  # sent, but not stored
    raw = gzip.decompress(snap.path.read_bytes())
    for secret in (b"s3cret", b"t0ken", b"c00kie"):
        assert secret not in raw
    response, request = snap.records()[1:]
    assert response.http["Set-Cookie"] == "[removed]"
    assert request.http["Authorization"] == "[removed]"
    assert request.http["Cookie"] == "[removed]"
    warcio_check(snap.path)


async def test_a_session_cookie_is_shown_by_its_label(site: FixtureSite, tmp_path: Path) -> None:
    """A session's Cookie header (``make_client(cookies_file=...)``) is recorded as a marker
    naming the session; a label that would break the header line is flattened."""
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\t"
                       "s3ss10n\n", encoding="utf-8")
    site.add_bytes("/p", HTML, "text/html", headers={"Set-Cookie": "srv=s3rv3r"})
    out = tmp_path / "page.warc.gz"
    async with make_client(allow_private=False, allow_networks=LOOPBACK,
                           cookies_file=cookies) as c:
        with out.open("wb") as f:
            await snapshot_page(site.url("/p"), client=c, out=f, max_bytes=1 << 20,
                                session="acct-3\r\nX-Evil: 1 é")
    assert site.hits[0].headers["Cookie"] == "sid=s3ss10n"  # sent, not stored
    raw = gzip.decompress(out.read_bytes())
    assert b"s3ss10n" not in raw and b"s3rv3r" not in raw
    info, response, request = read_warc(out)
    assert request.http["Cookie"] == "[redacted: session acct-3??X-Evil: 1 ?]"
    assert "X-Evil" not in request.http and response.http["Set-Cookie"] == "[removed]"
    assert ("the value of their Cookie header is recorded as "
            "[redacted: session acct-3??X-Evil: 1 ?]") in info.payload.decode()
    warcio_check(out)


async def test_long_page_is_truncated_at_max_bytes(site: FixtureSite, snap: Snap) -> None:
    body = bytes(range(256)) * 40
    site.add_bytes("/big", body, "text/html")
    outcome = await snap(site.url("/big"), max_bytes=1000)
    assert outcome.status is Status.AVAILABLE and outcome.truncated and outcome.body_bytes == 1000
    response = snap.records()[1]
    assert response.headers["WARC-Truncated"] == "length"
    assert response.payload == body[:1000]
    assert response.http["Content-Length"] == str(len(body))  # the server's claim, kept
    warcio_check(snap.path)


def counting_endless(sent: list[int]) -> Callable[[BaseHTTPRequestHandler], None]:
    """Zeros until the client hangs up (or 4 GiB); ``sent[0]`` counts the bytes written."""

    def handler(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "video/mp4")
        req.send_header("Connection", "close")
        req.end_headers()
        chunk = b"\0" * 65536
        try:
            for _ in range(65536):
                req.wfile.write(chunk)
                sent[0] += len(chunk)
        except OSError:
            pass

    return handler


async def test_endless_media_stops_at_the_media_cap(site: FixtureSite, snap: Snap) -> None:
    sent = [0]
    site.add("/endless.mp4", counting_endless(sent))
    started = time.monotonic()
    outcome = await snap(site.url("/endless.mp4"), max_bytes=1 << 30, media_max_bytes=100_000)
    assert time.monotonic() - started < 5
    assert outcome.status is Status.AVAILABLE
    assert outcome.truncated and outcome.body_bytes == 100_000
    await asyncio.sleep(0.2)
    assert sent[0] < 32 << 20  # socket buffers at most, not the gigabytes on offer
    assert snap.records()[1].headers["WARC-Truncated"] == "length"


@pytest.mark.parametrize(("kind", "kept"), [("video/mp4", 0), ("audio/ogg", 0),
                                             ("application/octet-stream", 1 << 20)])
async def test_by_default_typed_media_is_left_to_the_media_part(
        site: FixtureSite, snap: Snap, kind: str, kept: int) -> None:
    """Video and audio are downloaded once, by the media part: the snapshot keeps the
    headers. Untyped bytes may be anything yt-dlp will not keep: their first MiB stays."""
    body = bytes(range(256)) * 8192  # 2 MiB
    site.add_bytes("/file", body, kind)
    outcome = await snap(site.url("/file"), max_bytes=1 << 30)
    assert outcome.status is Status.AVAILABLE and outcome.truncated
    response = snap.records()[1]
    assert response.headers["WARC-Truncated"] == "length"
    assert response.payload == body[:kept]


async def test_endless_html_stops_at_max_bytes(site: FixtureSite, snap: Snap) -> None:
    site.add_endless("/endless", "text/html")
    outcome = await snap(site.url("/endless"), max_bytes=300_000, media_max_bytes=10)
    assert outcome.truncated and outcome.body_bytes == 300_000


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [*HTTP_CASES, (204, Status.AVAILABLE, False)],
)
async def test_http_status_mapping(
    site: FixtureSite, snap: Snap, code: int, status: Status, transient: bool
) -> None:
    site.add_bytes("/x", b"" if code == 204 else b"<p>no</p>", "text/html", status=code)
    outcome = await snap(site.url("/x"))
    assert (outcome.status, outcome.transient, outcome.http_status) == (status, transient, code)
    if status is not Status.AVAILABLE:
        assert outcome.message.startswith(f"HTTP {code} ")
    assert [r.type for r in snap.records()] == ["warcinfo", "response", "request"]


async def test_refused_first_hop(site: FixtureSite, snap: Snap) -> None:
    outcome = await snap(f"http://127.0.0.2:{site.server.server_address[1]}/")
    assert outcome.status is Status.ERROR and not outcome.transient
    assert outcome.message == "refused: 127.0.0.2 is not a public address"
    assert outcome.hops == 0 and outcome.http_status is None
    assert [r.type for r in snap.records()] == ["warcinfo"]


async def test_refused_redirect_hop_keeps_the_chain(site: FixtureSite, snap: Snap) -> None:
    site.add_redirect("/r", f"http://[::1]:{site.server.server_address[1]}/secret")
    outcome = await snap(site.url("/r"))
    assert (outcome.status, outcome.transient) == (Status.ERROR, False)
    assert outcome.message == "refused: ::1 is not a public address"
    records = snap.records()
    assert [r.type for r in records] == ["warcinfo", "response", "request"]
    assert records[1].http["Location"].endswith("/secret")


async def test_refused_hostname_names_the_host(site: FixtureSite, tmp_path: Path) -> None:
    async with make_client(allow_private=False) as c:
        outcome = await Snap(tmp_path, c)(f"http://localhost:{site.server.server_address[1]}/")
    assert outcome.message == (
        "refused: 127.0.0.1 is not a public address (the address of localhost)")


async def test_too_many_redirects(site: FixtureSite, tmp_path: Path) -> None:
    site.add_redirect("/loop", "/loop")
    async with make_client(allow_private=False, allow_networks=LOOPBACK, max_redirects=3) as c:
        outcome = await Snap(tmp_path, c)(site.url("/loop"))
    assert (outcome.status, outcome.transient, outcome.hops) == (Status.ERROR, False, 4)
    assert outcome.message == "too many redirects (more than 3)"


@pytest.mark.slow
async def test_slow_body_hits_the_deadline(site: FixtureSite, snap: Snap) -> None:
    site.add_slow("/slow", b"x" * 100, "text/html", delay=0.05)
    started = time.monotonic()
    outcome = await snap(site.url("/slow"), deadline=0.5)
    assert time.monotonic() - started < 2
    assert (outcome.status, outcome.transient, outcome.truncated) == (Status.ERROR, True, True)
    assert outcome.http_status == 200 and 0 < outcome.body_bytes < 100
    assert outcome.message == "timed out reading the body: deadline"
    response = snap.records()[1]
    assert response.headers["WARC-Truncated"] == "time"
    assert response.payload == b"x" * outcome.body_bytes
    warcio_check(snap.path)


async def test_stalled_body_hits_the_read_timeout(site: FixtureSite, tmp_path: Path) -> None:
    site.add_slow("/stall", b"xy", "text/html", delay=2.0)
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=0.3) as c:
        snap = Snap(tmp_path, c)
        outcome = await snap(site.url("/stall"))
    assert (outcome.status, outcome.truncated, outcome.body_bytes) == (Status.ERROR, True, 1)
    assert outcome.message.startswith("timed out reading the body: ReadTimeout(")
    assert snap.records()[1].headers["WARC-Truncated"] == "time"


async def test_deadline_before_headers(tmp_path: Path, snap: Snap) -> None:
    def mute(conn: socket.socket, stopping: threading.Event) -> None:
        stopping.wait(10)

    with silent_server(mute) as port:
        outcome = await snap(f"http://127.0.0.1:{port}/", deadline=0.3)
    assert (outcome.status, outcome.transient) == (Status.ERROR, True)
    assert outcome.message == "timed out after 0.3 s"


async def test_connection_closed_mid_body(site: FixtureSite, snap: Snap) -> None:
    def half(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.send_header("Content-Length", "1000")
        req.end_headers()
        req.wfile.write(b"<html>" + b"a" * 94)
        req.close_connection = True

    site.add("/half", half)
    outcome = await snap(site.url("/half"))
    assert (outcome.status, outcome.transient, outcome.http_status) == (Status.ERROR, True, 200)
    assert outcome.truncated and outcome.body_bytes == 100
    assert outcome.message.startswith("body incomplete:")
    response = snap.records()[1]
    assert response.headers["WARC-Truncated"] == "disconnect"
    warcio_check(snap.path)


@contextlib.contextmanager
def silent_server(behave: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A raw TCP server on 127.0.0.1 that runs ``behave(conn, stopping)`` per connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    behave(conn, stop)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def junk(conn: socket.socket, stopping: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff\xfe garbage \x01\x02\r\n\r\n")


async def test_garbage_response(snap: Snap) -> None:
    with silent_server(junk) as port:
        outcome = await snap(f"http://127.0.0.1:{port}/")
    assert (outcome.status, outcome.transient, outcome.hops) == (Status.ERROR, True, 0)
    assert outcome.message.startswith("RemoteProtocolError:")
    assert [r.type for r in snap.records()] == ["warcinfo"]


async def test_connection_refused(snap: Snap) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        outcome = await snap(f"http://127.0.0.1:{port}/")
    assert (outcome.status, outcome.transient) == (Status.ERROR, True)
    assert outcome.message.startswith("ConnectError:")


@pytest.mark.parametrize(
    "url", ["http://[::1/", "mailto:a@example.org", "ftp://example.org/", "http:///x", ""]
)
async def test_invalid_url(snap: Snap, url: str) -> None:
    outcome = await snap(url)
    assert (outcome.status, outcome.transient) == (Status.ERROR, False)
    assert outcome.message


async def test_chunked_body_is_stored_dechunked(site: FixtureSite, snap: Snap) -> None:
    def chunked(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        for part in (b"<html>", b"chunk", b"</html>"):
            req.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        req.wfile.write(b"0\r\n\r\n")

    site.add("/chunked", chunked)
    outcome = await snap(site.url("/chunked"))
    assert outcome.status is Status.AVAILABLE and outcome.body_bytes == 18
    response = snap.records()[1]
    assert response.payload == response.content == b"<html>chunk</html>"
    assert "Transfer-Encoding" not in response.http
    assert response.http["X-Archive-Orig-Transfer-Encoding"] == "chunked"
    warcio_check(snap.path)


async def test_content_encoding_is_kept_raw(site: FixtureSite, snap: Snap) -> None:
    encoded = gzip.compress(HTML, mtime=0)
    site.add_bytes("/gz", encoded, "text/html", headers={"Content-Encoding": "gzip"})
    outcome = await snap(site.url("/gz"))
    assert outcome.body_bytes == len(encoded)
    response = snap.records()[1]
    assert response.payload == encoded  # the bytes on the wire are the evidence
    assert response.headers["WARC-Payload-Digest"] == sha256_label(encoded)
    assert response.content == HTML  # readers still get the page
    warcio_check(snap.path)


async def test_same_inputs_give_the_same_bytes(site: FixtureSite, tmp_path: Path) -> None:
    """Fixed clock and ids: the WARC depends only on the exchange (STYLE: inject the clock)."""

    def fixed(req: BaseHTTPRequestHandler) -> None:
        req.protocol_version = "HTTP/1.0"
        req.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + HTML)
        req.close_connection = True

    site.add("/fixed", fixed)
    outputs = []
    for i in range(2):
        async with make_client(allow_private=False, allow_networks=LOOPBACK) as c:
            snap = Snap(tmp_path / str(i), c)
            snap.path.parent.mkdir()
            await snap(site.url("/fixed"))
            outputs.append(snap.path.read_bytes())
    assert outputs[0] == outputs[1]


async def test_connect_timeout(tmp_path: Path) -> None:
    async def hanging(host: str, port: int) -> list[str]:
        await asyncio.sleep(30)
        return []

    async with make_client(allow_private=False, timeout=0.2, resolver=hanging) as c:
        outcome = await Snap(tmp_path, c)("http://slow.test/")
    assert (outcome.status, outcome.transient) == (Status.ERROR, True)
    assert outcome.message == "timed out: ConnectTimeout('resolving slow.test timed out')"
