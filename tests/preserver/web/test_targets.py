"""The target page and the targets, links and lookup API, over real HTTP against
``preserver web``: what a legal team sees of one target (the video, the files, the signed
manifest, the availability history, the custody events with inclusion proofs that are
checked here against the ledger, the citations), in English and Arabic, escaped; and the
API answering what the CLI prints with ``--json``."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from manifests import leaf_hash, load_signing_key, verify_inclusion
from preserver.archive import open_archive
from preserver.capture.run import run_jobs
from preserver.config import load_config
from preserver.ingest.report import ingest_report
from tests.preserver.web.conftest import WebArchive
from tests.support.cli import NO_COLLECTION, run_cli
from tests.support.evidence import preserve
from tests.support.fixture_site import FixtureSite, html_page
from tests.support.postgres import PG_URL, create_database, drop_database
from tests.support.web import PASSWORD, WebSite, serve_web

_EVENT = re.compile(r'<article class="event" id="event-(\d+)">(.*?)</article>', re.DOTALL)
_LEAF = re.compile(r"Leaf (\d+)")
_CHECKPOINT = re.compile(r'In checkpoint of size (\d+), root:\s*<span class="hash" dir="ltr">'
                         r"([0-9a-f]{64})</span>")
_HASH = re.compile(r"<li>([0-9a-f]{64})</li>")


def cli_json(config: Path, *args: str) -> Any:
    return json.loads(run_cli(*args, "--json", config=config, check=0).stdout)


def path_of(key: str) -> str:
    return "/targets/" + quote(key, safe="")


@pytest.fixture(scope="module")
def clip(web_archive: WebArchive) -> dict[str, Any]:
    item: dict[str, Any] = cli_json(web_archive.site.config, "show",
                                    f"web:{web_archive.clip_url}")
    return item


def test_the_page_shows_the_video_files_and_signed_manifest(
        web_archive: WebArchive, viewer: httpx.Client, clip: dict[str, Any]) -> None:
    page = viewer.get(path_of(clip["key"]))
    assert page.status_code == 200
    html = page.text
    (capture,) = clip["captures"]
    media = next(f for f in capture["files"] if f["role"] == "media")
    assert f'<video controls preload="metadata" src="/files/{media["sha256"]}"></video>' in html
    for f in capture["files"]:
        assert f'<td class="hash" dir="ltr">{f["sha256"]}</td>' in html
        assert f'<td dir="auto">{f["name"]}</td>' in html
        assert f'<td class="num" dir="ltr">{f["size"]:,}</td>' in html
        assert f'<a href="/files/{f["sha256"]}" download="{f["name"]}">Download</a>' in html
    assert f'href="/files/{capture["manifest_sha256"]}"' in html
    assert f'href="/files/{capture["signature_sha256"]}"' in html
    key_id = load_signing_key(load_config(web_archive.site.config, env={}).keys_dir).key_id
    assert f"The signature verifies with the archive&#39;s key {key_id}." in html
    assert f"{len(capture['files'])} ({sum(f['size'] for f in capture['files']):,} B)" in html
    # the availability history, and the citation with its report
    (check,) = clip["checks"]
    assert f'<time datetime="{check["checked_at"]}">' in html
    (citation,) = clip["citations"]
    assert f'<a href="/reports/{citation["report_sha256"]}" dir="auto">report-a.txt</a>' in html
    assert f'<td class="num">{citation["line"]}</td>' in html
    assert 'href="/api/targets/web%3Ahttp%3A%2F%2F' in html


def test_each_custody_event_has_an_inclusion_proof_that_verifies(
        web_archive: WebArchive, viewer: httpx.Client, clip: dict[str, Any]) -> None:
    html = viewer.get(path_of(clip["key"])).text
    shown = {int(i): body for i, body in _EVENT.findall(html)}
    assert set(shown) == {e["id"] for e in clip["events"]} and shown
    database = web_archive.site.config.parent / "archive" / "preserver.db"
    with closing(sqlite3.connect(database)) as db:
        roots = dict(db.execute("SELECT size, root FROM checkpoints").fetchall())
        for event_id, body in shown.items():
            seq, leaf = db.execute("SELECT seq, body FROM events WHERE id = ?",
                                   (event_id,)).fetchone()
            assert _LEAF.search(body) is not None
            assert int(_LEAF.search(body).group(1)) == seq  # type: ignore[union-attr]
            found = _CHECKPOINT.search(body)
            assert found is not None, body
            size, root = int(found.group(1)), found.group(2)
            assert roots[size] == root and size == max(roots)
            proof = [bytes.fromhex(h) for h in _HASH.findall(body)]
            assert verify_inclusion(leaf=leaf_hash(leaf), index=seq, size=size, proof=proof,
                                    root=bytes.fromhex(root)) == bytes.fromhex(root)
            assert "The proof leads to this root." in body


def test_a_target_by_plain_key_capture_id_or_manifest(web_archive: WebArchive,
                                                      viewer: httpx.Client,
                                                      clip: dict[str, Any]) -> None:
    capture = clip["captures"][0]
    heading = f'<h1>Target: <span dir="ltr" class="mono">{clip["key"]}</span></h1>'
    for path in (path_of(clip["key"]), f"/targets/{clip['key']}", f"/targets/{capture['id']}",
                 f"/targets/{capture['manifest_sha256']}"):
        page = viewer.get(path)
        assert page.status_code == 200, path
        assert heading in page.text


def test_a_page_without_media_says_so(web_archive: WebArchive, viewer: httpx.Client) -> None:
    html = viewer.get(path_of(f"web:{web_archive.page_url}")).text
    assert "No video or audio was captured." in html
    assert "<video" not in html


def test_report_text_is_escaped(web_archive: WebArchive, viewer: httpx.Client,
                                clip: dict[str, Any]) -> None:
    html = viewer.get(path_of(clip["key"])).text
    assert "<b>&amp;</b>" not in html
    assert '<td class="label" dir="auto">1- الضحية الأولى &lt;b&gt;&amp;amp;&lt;/b&gt;</td>' \
        in html


def test_the_page_in_arabic(web_archive: WebArchive, clip: dict[str, Any]) -> None:
    with closing(web_archive.site.signed_in("viewer")) as client:
        client.cookies.set("preserver_lang", "ar")
        html = client.get(path_of(clip["key"])).text
    assert '<html lang="ar" dir="rtl">' in html
    for text in ("ما يحفظه الأرشيف", "سلسلة الحيازة", "سجل الإتاحة", "مستشهد به في",
                 "يقود الإثبات إلى هذا الجذر.", "تنزيل"):
        assert text in html
    assert "What the archive holds" not in html


def test_an_unknown_target_is_404(viewer: httpx.Client) -> None:
    page = viewer.get(path_of("youtube:<nothing>"))
    assert page.status_code == 404
    assert "no target, capture id or manifest named &#39;youtube:&lt;nothing&gt;&#39;" \
        in page.text
    api = viewer.get("/api/targets/" + quote("youtube:<nothing>", safe=""))
    assert api.status_code == 404
    assert api.json() == {"error": "no target, capture id or manifest named "
                                   "'youtube:<nothing>'"}
    for bad in ("x" * 9000, "web:http://a/%00", "youtube:%09"):
        refused = viewer.get("/api/targets/" + bad)
        assert refused.status_code == 400, bad
        assert "control character" in refused.json()["error"]
        assert viewer.get("/targets/" + bad).status_code == 400
    # a line break does not even match the route (its pattern is one line)
    assert viewer.get("/api/targets/youtube:%0d%0aX-Injected:%201").status_code == 404


def test_anonymous_is_sent_to_sign_in_and_the_api_answers_401(web_archive: WebArchive,
                                                              clip: dict[str, Any]) -> None:
    with web_archive.site.client() as client:
        page = client.get(path_of(clip["key"]))
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=" + quote(path_of(clip["key"]), safe="")
        for path in ("/api/targets/" + quote(clip["key"], safe=""), "/api/links",
                     "/api/lookup/" + "0" * 64):
            api = client.get(path)
            assert (api.status_code, api.json()) == (401, {"error": "sign in first"})


def test_the_api_answers_what_the_cli_prints(web_archive: WebArchive, viewer: httpx.Client,
                                             clip: dict[str, Any]) -> None:
    config = web_archive.site.config
    target = viewer.get("/api/targets/" + quote(clip["key"], safe=""))
    assert target.status_code == 200
    assert target.json() == cli_json(config, "show", clip["key"])
    assert viewer.get("/api/links").json() == cli_json(config, "links")
    by_report = viewer.get("/api/links", params={"report": "report-a.txt"})
    assert by_report.json() == cli_json(config, "links", "--report", "report-a.txt")
    assert len(by_report.json()) == 2
    unknown = viewer.get("/api/links", params={"report": "<no such report>"})
    assert unknown.status_code == 404
    assert "no report named" in unknown.json()["error"]


def test_lookup_by_hash(web_archive: WebArchive, viewer: httpx.Client, media: Any,
                        clip: dict[str, Any]) -> None:
    (cli,) = cli_json(web_archive.site.config, "lookup", str(media.mp4))
    del cli["file"]
    sha = media.sha256("mp4")
    assert viewer.get(f"/api/lookup/{sha}").json() == cli
    assert viewer.get(f"/api/lookup/{sha.upper()}").json() == cli
    assert cli["matches"][0]["target"] == clip["key"]
    absent = viewer.get(f"/api/lookup/{'0' * 64}")
    assert (absent.status_code, absent.json()) == (200, {"sha256": "0" * 64, "matches": []})
    for bad in ("0" * 63, "0" * 65, "z" * 64, "...", "0" * 64 + "%20", "%2e%2e"):
        refused = viewer.get(f"/api/lookup/{bad}")
        assert refused.status_code == 400, bad
        assert refused.json() == {"error": "a SHA-256 is 64 hexadecimal digits"}


# -- an archive captured with Chromium (a screenshot), its ledger not yet checkpointed --


@dataclass(frozen=True, kw_only=True)
class BrowserArchive:
    site: WebSite
    page_url: str
    refused_url: str


def _refuse(req: BaseHTTPRequestHandler) -> None:
    """403 with a hostile reason phrase: it becomes the capture's platform message."""
    body = b"<p>no</p>"
    req.send_response(403, "<script>alert('reason')</script>")
    req.send_header("Content-Type", "text/html")
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


async def _ingest_and_capture(config: Path, report: Path) -> None:
    async with open_archive(load_config(config, env={})) as archive:
        await ingest_report(archive, report)
        await run_jobs(archive)  # and no checkpoint: the events are not in one yet


@pytest.fixture(scope="module")
def browser_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserArchive]:
    root = tmp_path_factory.mktemp("web-browser")
    fixtures = FixtureSite.start()
    try:
        page = fixtures.add_bytes("/b/statement.html",
                                  html_page(title="Statement", body="<h1>statement</h1>"),
                                  "text/html")
        refused = fixtures.add("/b/refused", _refuse)
        config = root / "config.toml"
        config.write_text(
            f'data_dir = "{root / "archive"}"\noperator = "test-archivist"\n'
            '[capture]\ntimeout = "60s"\nmax_attempts = 1\n'
            '[network]\nallow_networks = ["127.0.0.1/32"]\n'
            '[browser]\nenabled = true\nexecutable = "/usr/bin/chromium"\n' + NO_COLLECTION,
            encoding="utf-8")
        report = root / "report-b.txt"
        report.write_text(f"1- <script>alert('label')</script>\n{page}\n2- refused\n{refused}\n",
                          encoding="utf-8")
        asyncio.run(_ingest_and_capture(config, report))
        with serve_web(config) as site:
            site.add_user("viewer", "viewer")
            yield BrowserArchive(site=site, page_url=page, refused_url=refused)
    finally:
        fixtures.close()


@pytest.mark.slow
def test_the_screenshot_is_shown_and_served(browser_archive: BrowserArchive) -> None:
    item = cli_json(browser_archive.site.config, "show", f"web:{browser_archive.page_url}")
    files = {f["role"]: f for f in item["captures"][0]["files"]}
    shot, dom = files["screenshot"], files["dom"]
    with closing(browser_archive.site.signed_in("viewer")) as client:
        html = client.get(path_of(item["key"])).text
        assert f'<img src="/files/{shot["sha256"]}" alt="Screenshot: {shot["name"]}">' in html
        image = client.get(f"/files/{shot['sha256']}")
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert image.headers["content-disposition"].startswith("inline;")
        # the page as Chromium rendered it: HTML, so a download, sandboxed if opened
        rendered = client.get(f"/files/{dom['sha256']}")
        assert rendered.headers["content-type"] == "text/html"
        assert rendered.headers["content-disposition"].startswith("attachment;")
        assert rendered.headers["content-security-policy"].startswith("sandbox;")


@pytest.mark.slow
def test_events_not_yet_checkpointed_say_so(browser_archive: BrowserArchive) -> None:
    item = cli_json(browser_archive.site.config, "show", f"web:{browser_archive.page_url}")
    with closing(browser_archive.site.signed_in("viewer")) as client:
        html = client.get(path_of(item["key"])).text
    events = _EVENT.findall(html)
    assert events and len(events) == len(item["events"])
    for _event_id, body in events:
        assert "Not yet in a checkpoint." in body
        assert _LEAF.search(body) is None and _CHECKPOINT.search(body) is None


@pytest.mark.slow
def test_a_hostile_label_and_platform_message_come_out_escaped(
        browser_archive: BrowserArchive) -> None:
    with closing(browser_archive.site.signed_in("viewer")) as client:
        page = client.get(path_of(f"web:{browser_archive.page_url}")).text
        refused = client.get(path_of(f"web:{browser_archive.refused_url}")).text
    assert "<script>alert(" not in page and "<script>alert(" not in refused
    assert '<td class="label" dir="auto">1- &lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;' \
        in page
    escaped = "HTTP 403 &lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt;"
    assert f'<p class="platform-message" dir="auto">{escaped}</p>' in refused
    assert f'<td class="platform-message" dir="auto">{escaped}</td>' in refused


@pytest.mark.slow
def test_a_blob_missing_from_the_store_is_404_and_the_page_says_what_failed(
        browser_archive: BrowserArchive) -> None:
    config = browser_archive.site.config
    item = cli_json(config, "show", f"web:{browser_archive.refused_url}")
    (capture,) = item["captures"]
    pdf = next(f for f in capture["files"] if f["role"] == "pdf")
    blobs = load_config(config, env={}).data_dir / "blobs" / "sha256"
    for sha in (pdf["sha256"], capture["manifest_sha256"]):
        (blobs / sha[:2] / sha[2:4] / sha).unlink()  # lost from the disk, named by the archive
    with closing(browser_archive.site.signed_in("viewer")) as client:
        gone = client.get(f"/files/{pdf['sha256']}")
        assert gone.status_code == 404
        assert f"{pdf['name']} is not in the blob store: run `preserver verify`" in gone.text
        page = client.get(path_of(item["key"]))
    assert page.status_code == 200
    assert "The signature was not verified: the manifest cannot be read: no blob " \
        f"{capture['manifest_sha256']}" in page.text


@pytest.mark.slow
@pytest.mark.skipif(not PG_URL, reason="PRESERVER_TEST_POSTGRES_URL is not set")
def test_the_page_files_and_api_on_postgresql(tmp_path: Path, media: Any) -> None:
    fixtures = FixtureSite.start()
    name, url = asyncio.run(create_database())
    try:
        clip_url = fixtures.add_file("/pg/clip.mp4", media.mp4, "video/mp4")
        config = tmp_path / "config.toml"
        config.write_text(
            f'data_dir = "{tmp_path / "archive"}"\noperator = "test-archivist"\n'
            f'database_url = "{url}"\n[capture]\ntimeout = "20s"\nmax_attempts = 1\n'
            '[network]\nallow_networks = ["127.0.0.1/32"]\n[browser]\nenabled = false\n'
            + NO_COLLECTION, encoding="utf-8")
        report = tmp_path / "report.txt"
        report.write_text(f"1- clip <i>x</i>\n{clip_url}\n", encoding="utf-8")
        asyncio.run(preserve(config, report))
        item = cli_json(config, "show", f"web:{clip_url}")
        with serve_web(config) as site:
            site.add_user("viewer", "viewer")
            with closing(site.signed_in("viewer")) as client:
                html = client.get(path_of(item["key"])).text
                api = client.get("/api/targets/" + quote(item["key"], safe="")).json()
                served = client.get(f"/files/{media.sha256('mp4')}",
                                    headers={"Range": "bytes=10-19"})
                lookup = client.get(f"/api/lookup/{media.sha256('mp4')}").json()
        assert api == item
        assert (served.status_code, served.content) == (206, media.mp4.read_bytes()[10:20])
        assert lookup["matches"][0]["target"] == item["key"]
        events = _EVENT.findall(html)
        assert events and all("The proof leads to this root." in body for _i, body in events)
        assert "clip &lt;i&gt;x&lt;/i&gt;" in html
    finally:
        fixtures.close()
        asyncio.run(drop_database(name))


@pytest.mark.slow
def test_chromium_plays_the_video_from_the_archive(web_archive: WebArchive,
                                                   clip: dict[str, Any]) -> None:
    """Signed in through the form, Chromium loads the page under its CSP and plays the
    video from /files (Range requests) until it can play, and plays it; no request of the page fails (the
    browser's own /favicon.ico, a 404, is not the page's)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    failed: list[str] = []
    ranged: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                    if r.status >= 400 else None)
            page.on("response", lambda r: ranged.append(r.url)
                    if r.status == 206 and "/files/" in r.url else None)
            page.goto(web_archive.site.url + path_of(clip["key"]))
            page.fill("input[name=name]", "viewer")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/targets/**")
            # HAVE_FUTURE_DATA: the element says it can play (its canplay event) ...
            page.wait_for_function("() => document.querySelector('video').readyState >= 3",
                                   timeout=20000)
            # ... and it does: muted (autoplay rules), its time moves on
            page.evaluate("(v => { v.muted = true; return v.play(); })"
                          "(document.querySelector('video'))")
            page.wait_for_function("() => document.querySelector('video').currentTime > 0.2",
                                   timeout=20000)
            duration = page.evaluate("document.querySelector('video').duration")
            dims = page.evaluate("[document.querySelector('video').videoWidth,"
                                 " document.querySelector('video').videoHeight]")
        finally:
            browser.close()
    assert 1.5 < duration < 3  # the fixture clip is 2 s
    assert dims[0] > 0 and dims[1] > 0
    assert failed == [], errors
    media = next(f for f in clip["captures"][0]["files"] if f["role"] == "media")
    assert ranged and all(u.endswith(f"/files/{media['sha256']}") for u in ranged)
