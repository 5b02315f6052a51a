"""The browser part with real Chromium (Debian's package) against the fixture site.

Nothing is mocked: Playwright drives /usr/bin/chromium, every request goes through the
guarded httpx client, and a second server on another loopback address (not allowed by
``allow_networks``) counts every connection anyone makes to it: it must stay at zero.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from storage.local import LocalBlobStore
from tests.support.browser import CHROMIUM, KEY_ID, browser_job, browser_settings
from tests.support.fixture_site import FixtureSite, html_page, send
from tests.support.forbidden import Forbidden
from workers._banner import BANNER_HEIGHT
from workers.browser import Browser, BrowserSettings, render_page
from workers.capture import capture
from workers.net import make_client
from workers.types import CaptureJob, CaptureState, Status

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                "(.ci/run installs it)")
LOOPBACK = ("127.0.0.1/32",)
MOMENT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def settings(**changes: object) -> BrowserSettings:
    return browser_settings(**changes)


def make_job(tmp_path: Path, url: str) -> CaptureJob:
    return browser_job(tmp_path, url, LOOPBACK)


def script_page(site: FixtureSite, forbidden: Forbidden) -> str:
    """Text and data that appear only after a script ran and a fetch returned; an image,
    a fetch, a WebSocket, an iframe, a prefetch and a service worker aimed at the
    forbidden server."""
    site.add_bytes("/data.json", json.dumps({"victim": "written by the script"}).encode(),
                   "application/json")
    site.add_bytes("/sw.js", b"self.addEventListener('fetch', e => {});", "text/javascript")
    site.add_redirect("/hop", forbidden.url("/redirected"))
    body = f"""
      <h1 id="title">empty shell</h1>
      <img src="{forbidden.url('/pixel.png')}">
      <iframe src="{forbidden.url('/frame')}"></iframe>
      <link rel="prefetch" href="{forbidden.url('/prefetch')}">
      <div style="height: 1500px; background: #0a0"></div>
      <script>
        fetch('/data.json').then(r => r.json()).then(d => {{
          document.getElementById('title').textContent = d.victim; }});
        fetch('{forbidden.url('/api')}').catch(() => {{}});
        fetch('/hop').catch(() => {{}});
        try {{ new WebSocket('ws://127.0.0.2:{forbidden.port}/ws'); }} catch (e) {{}}
        if (navigator.serviceWorker) navigator.serviceWorker.register('/sw.js').catch(() => {{}});
      </script>"""
    return site.add_bytes("/post", html_page(title="Script page", body=body), "text/html")


def load_image(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image


def load_image_bytes(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image


def records(path: Path) -> list[tuple[str, str | None, bytes]]:
    with path.open("rb") as f:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"),
                 r.content_stream().read()) for r in ArchiveIterator(f, check_digests="raise")]


@pytest.mark.slow
async def test_script_page_rendered_and_nothing_reaches_a_forbidden_address(
        tmp_path: Path, site: FixtureSite, forbidden: Forbidden, http: httpx.AsyncClient) -> None:
    url = script_page(site, forbidden)
    job = make_job(tmp_path, url)
    async with Browser(settings()) as browser:
        outcome = await render_page(browser, job, http, clock=lambda: MOMENT)
    assert outcome.complete, outcome.message
    files = {f.role: f for f in outcome.files}
    assert set(files) == {"screenshot", "dom", "pdf", "browser"}
    # the DOM holds what the script wrote
    dom = files["dom"].path.read_text(encoding="utf-8")
    assert "written by the script" in dom and "empty shell" not in dom
    # the WARC holds the script's fetch, request and response, digests checked
    recs = records(files["browser"].path)
    assert ("response", site.url("/data.json"), b'{"victim": "written by the script"}') in recs
    assert any(kind == "request" and uri == site.url("/data.json") for kind, uri, _ in recs)
    # the screenshot: the page's size under the banner, which is drawn in dark pixels
    image = load_image(files["screenshot"].path)
    height = outcome.record["page_height"]
    assert image.size == (800, height + BANNER_HEIGHT)
    assert height >= 1500
    rgb = image.convert("RGB")
    assert rgb.getpixel((400, 3)) == (0x1b, 0x1b, 0x1b)  # banner background
    assert rgb.getpixel((400, BANNER_HEIGHT + 400))[1] > 150  # the page's green block
    assert outcome.record["screenshot"]["banner"][0] == url
    assert job.capture_id in outcome.record["screenshot"]["banner"][1]
    assert KEY_ID in outcome.record["screenshot"]["banner"][1]
    assert files["pdf"].path.read_bytes().startswith(b"%PDF-")
    # nobody reached the forbidden server: not the image, iframe, fetch, redirect,
    # WebSocket, prefetch; and each refusal is recorded
    assert forbidden.connections == 0
    refused = {r["url"] for r in outcome.record["refused_requests"]}
    assert forbidden.url("/pixel.png") in refused and forbidden.url("/api") in refused
    assert f"ws://127.0.0.2:{forbidden.port}/ws" in refused
    assert outcome.record["main_response"] == {"url": url, "http_status": 200,
                                               "ip_address": "127.0.0.1"}
    with files["browser"].path.open("rb") as f:
        ips = {r.rec_headers.get_header("WARC-IP-Address") for r in ArchiveIterator(f)
               if r.rec_type == "response"}
    assert ips == {"127.0.0.1"}


@pytest.mark.slow
async def test_redirected_page_is_loaded_under_its_final_address(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    site.add_bytes("/final/page", html_page(body='<img src="pic.png"><p>final</p>'), "text/html")
    site.add_bytes("/final/pic.png", b"\x89PNG\r\n\x1a\n", "image/png")
    start = site.add_redirect("/start", "/final/page")
    async with Browser(settings()) as browser:
        outcome = await render_page(browser, make_job(tmp_path, start), http, clock=lambda: MOMENT)
    assert outcome.complete, outcome.message
    assert outcome.record["url_loaded"] == site.url("/final/page")
    uris = [uri for kind, uri, _ in records(next(f.path for f in outcome.files
                                                  if f.role == "browser")) if kind == "response"]
    # the redirect hop is evidence too; the relative image resolved against the final URL
    assert uris[:2] == [start, site.url("/final/page")] and site.url("/final/pic.png") in uris


@pytest.mark.slow
async def test_a_page_that_never_settles_is_kept_with_a_record(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    site.add_bytes("/tick", b"{}", "application/json")
    body = "<p>busy</p><script>setInterval(() => fetch('/tick'), 100)</script>"
    url = site.add_bytes("/busy", html_page(body=body), "text/html")
    async with Browser(settings(settle=1.0)) as browser:
        outcome = await render_page(browser, make_job(tmp_path, url), http, clock=lambda: MOMENT)
    assert outcome.complete, outcome.message
    assert outcome.record["settled"] is False


@pytest.mark.slow
async def test_endless_scroll_and_a_huge_page_are_cut_at_max_height(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    endless = """<div id=feed style="height: 2000px"></div><script>
      addEventListener('scroll', () => { const d = document.createElement('div');
        d.style.height = '2000px'; document.getElementById('feed').append(d); });</script>"""
    site.add_bytes("/endless", html_page(body=endless), "text/html")
    huge = html_page(body='<div style="height: 100000px; background: #00f"></div>')
    site.add_bytes("/huge", huge, "text/html")
    async with Browser(settings(max_height=3000, settle=2.0)) as browser:
        for path in ("/endless", "/huge"):
            outcome = await render_page(browser, make_job(tmp_path, site.url(path)), http,
                                        clock=lambda: MOMENT)
            shot = next(f for f in outcome.files if f.role == "screenshot")
            assert load_image(shot.path).size == (800, 3000 + BANNER_HEIGHT)
            assert not outcome.complete or "cut at 3000" in outcome.message
            assert "screenshot cut at 3000" in outcome.message
            assert "pdf" not in {f.role for f in outcome.files}  # not cheap: not printed


@pytest.mark.slow
async def test_popups_and_downloads_are_not_kept(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    site.add_bytes("/file.bin", b"\0" * 1000, "application/octet-stream",
                   headers={"Content-Disposition": "attachment; filename=x.bin"})
    site.add_bytes("/other", html_page(body="<p>popup</p>"), "text/html")
    body = """<p>main</p><script>window.open('/other'); window.open('/other');
      const a = document.createElement('a'); a.href = '/file.bin'; a.download = 'x.bin';
      document.body.append(a); a.click(); alert('hostile dialog');</script>"""
    url = site.add_bytes("/popups", html_page(body=body), "text/html")
    async with Browser(settings()) as browser:
        outcome = await render_page(browser, make_job(tmp_path, url), http, clock=lambda: MOMENT)
    assert outcome.complete, outcome.message
    assert "<p>main</p>" in next(f for f in outcome.files if f.role == "dom").path.read_text()
    assert not list(tmp_path.rglob("x.bin"))


@pytest.mark.slow
async def test_hostile_responses_are_refused_not_fatal(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    """A gzip bomb served despite ``Accept-Encoding: identity``, an endless body, a
    body that lies about its coding: each refused and recorded; the page is kept."""
    bomb = gzip.compress(b"\0" * (8 << 20))
    site.add_bytes("/bomb.js", bomb, "text/javascript", headers={"Content-Encoding": "gzip"})
    site.add_bytes("/liar.css", b"not gzip at all", "text/css", headers={"Content-Encoding": "gzip"})
    site.add_endless("/endless.js", "text/javascript")
    body = ('<p>kept</p><script src="/bomb.js"></script><script src="/endless.js"></script>'
            '<link rel="stylesheet" href="/liar.css">')
    url = site.add_bytes("/hostile", html_page(body=body), "text/html")
    async with Browser(settings()) as browser:
        outcome = await render_page(browser, make_job(tmp_path, url), http, clock=lambda: MOMENT)
    assert outcome.complete, outcome.message
    reasons = {r["url"].rsplit("/", 1)[1]: r["reason"] for r in outcome.record["refused_requests"]}
    assert "over" in reasons["bomb.js"] and "cut" in reasons["endless.js"]
    assert "undecodable" in reasons["liar.css"]


def _chromium_pids() -> list[int]:
    """The browser processes (not renderers) of this test process: its descendants only,
    never another program's Chromium on the same machine."""
    parents: dict[int, int] = {}
    browsers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        if any(b"--remote-debugging-pipe" in part for part in cmdline) and \
                not any(part.startswith(b"--type=") for part in cmdline):
            browsers.append(int(entry.name))

    def ours(pid: int) -> bool:
        while pid > 1:
            if pid == os.getpid():
                return True
            pid = parents.get(pid, 0)
        return False

    return [pid for pid in browsers if ours(pid)]


@pytest.mark.slow
async def test_browser_killed_mid_capture_partial_then_next_target_works(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    """The browser dies (SIGKILL) while a page loads: that capture keeps its page snapshot
    and says why it is partial; the next target gets a new browser and is complete."""
    killed = threading.Event()

    def slow(req: object) -> None:
        for pid in _chromium_pids():
            os.kill(pid, signal.SIGKILL)
        killed.set()
        send(req, 200, html_page(body="<p>late</p>"), "text/html")  # type: ignore[arg-type]

    site.add_bytes("/page", html_page(body='<p>x</p><img src="/slow.png">'), "text/html")
    site.add("/slow.png", slow)
    site.add_bytes("/next", html_page(body="<p>next</p>"), "text/html")
    store = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    async with Browser(settings()) as browser:
        first = await capture(make_job(tmp_path, site.url("/page")), store, http, browser=browser)
        assert killed.is_set()
        second = await capture(make_job(tmp_path, site.url("/next")), store, http,
                               browser=browser)
    assert first.state is CaptureState.PARTIAL and first.status is Status.AVAILABLE
    assert first.message.startswith("browser: ")
    assert "page" in {f.role for f in first.files}
    assert second.state is CaptureState.COMPLETE, second.message
    assert {"screenshot", "dom", "pdf", "browser", "page"} <= {f.role for f in second.files}


@pytest.mark.slow
async def test_capture_names_and_stores_the_browser_files(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    url = site.add_bytes("/article", html_page(body="<p>article</p>"), "text/html")
    store = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    job = make_job(tmp_path, url)
    async with Browser(settings()) as browser:
        result = await capture(job, store, http, browser=browser)
    assert result.state is CaptureState.COMPLETE, result.message
    names = {f.role: f.name for f in result.files}
    base = names["page"].removesuffix(".page.warc.gz")
    assert names["screenshot"] == f"{base}.screenshot.png"
    assert names["dom"] == f"{base}.dom.html" and names["pdf"] == f"{base}.page.pdf"
    assert names["browser"] == f"{base}.browser.warc.gz"
    assert result.collection["browser"]["state"] == "complete"
    with store.open(next(f.sha256 for f in result.files if f.role == "screenshot")) as blob:
        assert load_image_bytes(blob.read()).format == "PNG"


@pytest.mark.slow
def test_wacz_of_the_capture_validates(tmp_path: Path, site: FixtureSite) -> None:
    """The page snapshot and the browser's WARC together make a WACZ (the ``wacz``
    package) that validates: the rendered page replays from the archive."""
    import asyncio

    url = site.add_bytes("/replay", html_page(body='<p>replay</p><script src="/a.js"></script>'),
                         "text/html")
    site.add_bytes("/a.js", b"document.body.append('scripted')", "text/javascript")
    store = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")

    async def run() -> list[Path]:
        async with make_client(allow_private=False, allow_networks=LOOPBACK) as client, \
                Browser(settings()) as browser:
            result = await capture(make_job(tmp_path, url), store, client, browser=browser)
        out = []
        for f in result.files:
            if f.media_type == "application/warc":
                out.append(tmp_path / f.name)
                with store.open(f.sha256) as blob:
                    out[-1].write_bytes(blob.read())
        return out

    warcs = asyncio.run(run())
    wacz = shutil.which("wacz", path=str(Path(os.sys.executable).parent)) or "wacz"
    made = subprocess.run([wacz, "create", "-o", str(tmp_path / "c.wacz"), "--detect-pages",
                           *map(str, warcs)], capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    checked = subprocess.run([wacz, "validate", "-f", str(tmp_path / "c.wacz")],
                             capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
async def test_a_direct_media_link_is_not_rendered(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    """A link straight to a video: nothing to render, the media part is the evidence; the
    capture is complete without browser files and the record says why."""
    site.add_endless("/v/endless.mp4", "video/mp4")
    job = make_job(tmp_path, site.url("/v/endless.mp4"))
    async with Browser(settings()) as browser:
        outcome = await render_page(browser, job, http, clock=lambda: MOMENT)
    assert outcome.complete and outcome.files == ()
    assert outcome.record["state"] == "not a page"
    assert outcome.record["content_type"] == "video/mp4"


async def test_a_direct_media_link_does_not_start_chromium(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    """The page snapshot's answer (the media type of the final response) reaches the
    browser part first: a run of direct media links never starts Chromium, and the
    snapshot keeps the response's headers, not its body (the media part has the bytes)."""
    site.add_endless("/v/endless.mp4", "video/mp4")
    job = make_job(tmp_path, site.url("/v/endless.mp4"))
    store = LocalBlobStore(tmp_path / "blobs", tmp_path / "work")
    async with Browser(settings()) as browser:
        result = await capture(job, store, http, browser=browser, clock=lambda: MOMENT)
        assert browser.version == ""  # never launched
    record = result.collection["browser"]
    assert (record["state"], record["content_type"], record["seen_by"]) == (
        "not a page", "video/mp4", "page snapshot")
    (page,) = [f for f in result.files if f.role == "page"]
    with store.open(page.sha256) as blob:
        (response,) = [r for r in ArchiveIterator(blob) if r.rec_type == "response"]
        assert response.rec_headers.get_header("WARC-Truncated") == "length"
        assert response.content_stream().read() == b""


@pytest.mark.slow
async def test_a_page_redirected_to_a_forbidden_address_is_not_loaded(
        tmp_path: Path, site: FixtureSite, forbidden: Forbidden, http: httpx.AsyncClient) -> None:
    """The main document redirects to a refused address, and a script tries the cloud
    metadata address: the browser reaches neither; the part fails with the reason."""
    start = site.add_redirect("/away", forbidden.url("/internal"))
    async with Browser(settings()) as browser:
        outcome = await render_page(browser, make_job(tmp_path, start), http,
                                    clock=lambda: MOMENT)
    assert not outcome.complete
    assert forbidden.connections == 0
    assert "url_loaded" not in outcome.record  # nothing was loaded
    assert outcome.message.startswith("Page.goto: net::ERR_ADDRESS_UNREACHABLE")
    assert any(r["url"] == forbidden.url("/internal") and "refused" in r["reason"]
               for r in outcome.record["refused_requests"])


@pytest.mark.slow
async def test_a_page_that_eats_memory_ends_the_part_and_the_next_page_works(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    """A script that allocates without end hits the renderer's heap bound (512 MB): the
    part ends with a reason, nothing hangs, and the same browser renders the next page."""
    bomb = "<p>bomb</p><script>const a = []; for (;;) a.push(new Array(1e6).fill(7));</script>"
    site.add_bytes("/bomb", html_page(body=bomb), "text/html")
    site.add_bytes("/after", html_page(body="<p>after</p>"), "text/html")
    async with Browser(settings(timeout=60.0)) as browser:
        first = await render_page(browser, make_job(tmp_path, site.url("/bomb")), http,
                                  clock=lambda: MOMENT)
        second = await render_page(browser, make_job(tmp_path, site.url("/after")), http,
                                   clock=lambda: MOMENT)
    assert not first.complete and first.message
    assert second.complete, second.message
