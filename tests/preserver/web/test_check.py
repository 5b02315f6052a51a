"""/check, "is this the file?": the file hashed in real Chromium (Web Worker, incremental
SHA-256 in JavaScript, WebCrypto for one chunk) and the server-rendered answer by hash;
hostile hashes over httpx. The JavaScript SHA-256 is checked against WebCrypto and
hashlib in the browser."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from preserver.web.check import CHUNK_BYTES
from tests.preserver.web.conftest import WebArchive
from tests.support.cli import run_cli
from tests.support.fixture_site import Media
from tests.support.web import PASSWORD

WAIT_MS = 120_000
INSECURE = "insecure.test"


@pytest.fixture(scope="module")
def mapped_chromium() -> Iterator[Browser]:
    """Chromium that also reaches this site as insecure.test (not a secure context)."""
    with sync_playwright() as playwright:
        # insecure.test: this site by a name that is not a secure context (not loopback)
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=[f"--host-resolver-rules=MAP {INSECURE} 127.0.0.1"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(mapped_chromium: Browser) -> Iterator[Page]:
    context = mapped_chromium.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in_page(page: Page, site_url: str, name: str = "viewer") -> None:
    """Sign in through the login form, which then sends the browser on to /check."""
    page.goto(f"{site_url}/login?next=%2Fcheck")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site_url}/check")


def choose(page: Page, path: Path) -> str:
    """Choose ``path`` on the page; the SHA-256 the page computed, once it shows the answer."""
    page.set_input_files("#check-file", str(path))
    page.wait_for_selector("#check-status[data-sha256]", timeout=WAIT_MS)
    computed = page.get_attribute("#check-status", "data-sha256")
    assert computed is not None
    page.wait_for_selector(f'#result[data-sha256="{computed}"]', timeout=WAIT_MS)
    return computed


def lookup_json(archive: WebArchive, path: Path) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(
        run_cli("lookup", str(path), "--json", config=archive.site.config, check=0).stdout)
    return found[0]


@pytest.mark.slow
def test_the_archived_clip_is_found_by_its_hash_computed_in_the_browser(
        web_archive: WebArchive, media: Media, page: Page) -> None:
    expected = lookup_json(web_archive, media.mp4)
    assert expected["matches"], "the fixture's clip is archived byte for byte"
    sign_in_page(page, web_archive.site.url)
    assert page.is_visible("#check-file")  # shown by check.js
    assert not page.is_visible("#check-progress")
    sent: list[tuple[str, str, bytes | None]] = []
    page.on("request", lambda r: sent.append((r.method, r.url, r.post_data_buffer)))
    computed = choose(page, media.mp4)
    assert computed == hashlib.sha256(media.mp4.read_bytes()).hexdigest() == expected["sha256"]
    assert page.get_attribute("#check-status", "data-via") == "webcrypto"  # under one chunk
    assert page.url == f"{web_archive.site.url}/check?sha256={computed}"
    assert page.inner_text("#check-status").startswith("Hashed 0.")  # MB, a small clip
    result = page.inner_text("#result")
    assert "In the archive. Archived files with exactly these bytes: 1." in result
    match = expected["matches"][0]
    assert match["captured_at"][:19].replace("T", " ") + " UTC" in result
    assert match["capture_id"] in result
    assert match["url"] == web_archive.clip_url and match["url"] in result
    citation = match["citations"][0]
    assert page.inner_text("#result .label") == citation["label"]
    assert f"{citation['report']}, line {citation['line']}" in result
    # the file never left the machine: only GETs, no body, and only the hash asked for
    assert all(method == "GET" and body is None for method, _url, body in sent)
    asked = [url for _m, url, _b in sent if "/static/" not in url]
    assert asked == [f"{web_archive.site.url}/check?sha256={computed}"]


@pytest.mark.slow
def test_a_file_the_archive_does_not_hold_is_not_in_the_archive(
        web_archive: WebArchive, page: Page, tmp_path: Path) -> None:
    other = tmp_path / "other.mp4"
    other.write_bytes(os.urandom(100_000))
    sign_in_page(page, web_archive.site.url)
    computed = choose(page, other)
    assert computed == hashlib.sha256(other.read_bytes()).hexdigest()
    assert "Not in the archive" in page.inner_text("#result")
    assert page.input_value("#check-sha256") == computed


@pytest.mark.slow
def test_a_file_of_several_chunks_is_hashed_incrementally_as_hashlib_does(
        web_archive: WebArchive, page: Page, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 << 20) + b"tail")  # 3 chunks, the last one short
    assert big.stat().st_size > 2 * CHUNK_BYTES
    sign_in_page(page, web_archive.site.url)
    computed = choose(page, big)
    assert computed == hashlib.sha256(big.read_bytes()).hexdigest()
    assert page.get_attribute("#check-status", "data-via") == "js"
    assert page.get_attribute("#check-status", "data-read") == "stream"  # one buffer, reused
    assert page.get_attribute("#check-status", "data-bytes") == str(big.stat().st_size)
    assert page.get_attribute("#check-progress", "value") == "100"
    assert "Not in the archive" in page.inner_text("#result")


@pytest.mark.slow
def test_arabic_page_hashes_and_answers_in_arabic(
        web_archive: WebArchive, media: Media, page: Page) -> None:
    page.context.add_cookies([{"name": "preserver_lang", "value": "ar",
                               "url": web_archive.site.url}])
    sign_in_page(page, web_archive.site.url)
    assert page.get_attribute("html", "dir") == "rtl"
    choose(page, media.mp4)
    assert page.inner_text("#check-status").startswith("حُسبت البصمة (")
    assert "في الأرشيف" in page.inner_text("#result")


@pytest.mark.slow
def test_outside_a_secure_context_the_javascript_sha256_hashes_even_a_small_file(
        web_archive: WebArchive, media: Media, page: Page) -> None:
    site = web_archive.site.url.replace("127.0.0.1", INSECURE)
    sign_in_page(page, site)
    assert page.evaluate("() => [window.isSecureContext, typeof crypto.subtle]") == [
        False, "undefined"]
    computed = choose(page, media.mp4)
    assert computed == media.sha256("mp4")
    assert page.get_attribute("#check-status", "data-via") == "js"
    assert "In the archive." in page.inner_text("#result")


@pytest.mark.slow
def test_without_javascript_a_pasted_hash_is_looked_up(
        web_archive: WebArchive, media: Media, mapped_chromium: Browser) -> None:
    context = mapped_chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in_page(page, web_archive.site.url)
        assert not page.is_visible("#check-file")  # nothing could hash it
        page.fill("#check-sha256", media.sha256("mp4").upper())
        page.click("#check-form button[type=submit]")
        page.wait_for_url(f"{web_archive.site.url}/check?sha256=*")
        assert page.get_attribute("#result", "data-sha256") == media.sha256("mp4")
        assert "In the archive." in page.inner_text("#result")
    finally:
        context.close()


def _vectors() -> dict[str, bytes]:
    return {
        "empty": b"",
        "abc": b"abc",
        "nist-448": b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "nist-896": b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                    b"hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "million-a": b"a" * 1_000_000,
        "random": os.urandom(3 * 1_048_576 + 17),
    }


# For each vector: the JS hash fed whole, fed in random pieces, and WebCrypto's.
_HASH_VECTORS = """async (vectors) => {
  const out = {};
  for (const [name, b64] of Object.entries(vectors)) {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const whole = new Sha256().update(bytes).hex();
    const pieces = new Sha256();
    for (let at = 0; at < bytes.length;) {
      const n = Math.floor(Math.random() * 200000);
      pieces.update(bytes.subarray(at, at + n));
      at += n;
    }
    const web = Sha256.toHex(await crypto.subtle.digest("SHA-256", bytes));
    out[name] = [whole, pieces.hex(), web];
  }
  // every length around the padding's edges, against WebCrypto
  const wrong = [];
  for (let n = 0; n <= 260; n++) {
    const data = crypto.getRandomValues(new Uint8Array(n));
    const web = Sha256.toHex(await crypto.subtle.digest("SHA-256", data));
    if (new Sha256().update(data).hex() !== web) wrong.push(n);
  }
  out.lengths = wrong;
  return out;
}"""

# The worker over a Blob, with a chunk size that makes chunk edges fall mid-block, reading
# it as a byte stream into one buffer (Chromium's way) or by File.slice (the fallback).
_HASH_IN_WORKER = """async ([b64, chunkSize, slices]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const worker = new Worker("/static/sha256-worker.js");
  const progress = [];
  const done = await new Promise((resolve, reject) => {
    worker.onmessage = e => e.data.type === "progress" ? progress.push(e.data.done)
                                                       : resolve(e.data);
    worker.onerror = e => reject(new Error(e.message));
    worker.postMessage({file: new Blob([bytes]), chunkSize, slices});
  });
  worker.terminate();
  return [done, progress];
}"""


@pytest.mark.slow
def test_the_javascript_sha256_equals_webcrypto_and_hashlib(
        web_archive: WebArchive, page: Page) -> None:
    vectors = _vectors()
    page.goto(f"{web_archive.site.url}/login")  # a page of the site, under its CSP
    page.add_script_tag(url="/static/sha256.js")
    got = page.evaluate(_HASH_VECTORS,
                        {k: base64.b64encode(v).decode() for k, v in vectors.items()})
    assert got.pop("lengths") == []
    for name, data in vectors.items():
        assert got[name] == [hashlib.sha256(data).hexdigest()] * 3, name
    random = vectors["random"]
    cases = [(random[:5000], 64), (random[:5000], 1000), (random, 1_048_576 + 3),
             (random, len(random)), (random, len(random) + 1)]
    for (data, chunk), slices in itertools.product(cases, (False, True)):
        done, progress = page.evaluate(_HASH_IN_WORKER,
                                       [base64.b64encode(data).decode(), chunk, slices])
        assert done["sha256"] == hashlib.sha256(data).hexdigest(), (chunk, slices)
        assert done["bytes"] == len(data)
        if chunk >= len(data):
            assert done["via"] == "webcrypto"
            continue
        assert (done["via"], done["read"]) == ("js", "slices" if slices else "stream")
        assert progress[-1] == len(data)
        assert len(progress) == -(-len(data) // chunk)  # one report a chunk


def _written(archive: WebArchive) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """What the archive holds: its files (but the database's) and its tables' row counts."""
    root = archive.site.config.parent / "archive"
    files = sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*")
                   if p.is_file() and not p.name.startswith("preserver.db"))
    with closing(sqlite3.connect(f"file:{root / 'preserver.db'}?mode=ro", uri=True)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    return files, counts


@pytest.mark.parametrize("bad", [
    "not-a-hash", "a" * 63, "a" * 65, "g" * 64, "../../" + "a" * 58, "a" * 32 + ".." + "a" * 30,
    "%00" + "a" * 63, "a" * 63 + "%00", "%E2%80%8F" + "a" * 64, "a" * 10_000,
], ids=["words", "63", "65", "not-hex", "dotdot-first", "dotdot-inside", "nul-first",
        "nul-last", "rtl-mark", "10000"])
def test_a_bad_hash_is_a_400_page_and_nothing_is_written(web_archive: WebArchive,
                                                          viewer: httpx.Client, bad: str) -> None:
    before = _written(web_archive)
    response = viewer.get(f"/check?sha256={bad}")
    after = _written(web_archive)
    assert response.status_code == 400
    assert "This is not a SHA-256: a SHA-256 is 64 hexadecimal digits" in response.text
    assert "capital letters are accepted" in response.text
    assert after == before


def test_capitals_and_surrounding_spaces_are_accepted_and_nothing_is_written(
        web_archive: WebArchive, viewer: httpx.Client, media: Media) -> None:
    sha = media.sha256("mp4")
    before = _written(web_archive)
    upper = viewer.get("/check", params={"sha256": f"  {sha.upper()}\n"})
    lower = viewer.get("/check", params={"sha256": sha})
    assert _written(web_archive) == before
    assert upper.status_code == lower.status_code == 200
    assert upper.text == lower.text
    assert f'data-sha256="{sha}"' in upper.text
    assert "In the archive." in upper.text


def test_without_a_hash_the_page_offers_the_form_and_only_static_scripts(
        viewer: httpx.Client) -> None:
    response = viewer.get("/check")
    empty = viewer.get("/check?sha256=")
    worker = viewer.get("/static/sha256-worker.js")
    assert response.status_code == empty.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert '<form method="get" action="/check"' in html
    assert 'name="sha256"' in html
    assert html.count("<script") == html.count('<script src="/static/') == 1
    assert 'id="result" data-sha256=""' in html
    assert worker.status_code == 200
    assert "javascript" in worker.headers["content-type"]


def test_the_answer_is_in_arabic_for_an_arabic_reader(viewer: httpx.Client) -> None:
    arabic = {"Cookie": f"preserver_session={viewer.cookies['preserver_session']}; "
                        "preserver_lang=ar"}
    answer = viewer.get("/check", params={"sha256": "0" * 64}, headers=arabic)
    bad = viewer.get("/check", params={"sha256": "0" * 63}, headers=arabic)
    assert "ليس في الأرشيف" in answer.text
    assert "جارٍ حساب بصمة {name}" in answer.text  # the script's texts, for it to fill in
    assert bad.status_code == 400
    assert "هذه ليست بصمة SHA-256" in bad.text


def test_anonymous_visitors_are_sent_to_sign_in(web_archive: WebArchive) -> None:
    with web_archive.site.client() as client:
        response = client.get("/check", params={"sha256": "0" * 64})
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fcheck%3Fsha256%3D{'0' * 64}"


# The worker over a file chosen in the page; with ``change``, the test changes the file
# (window.changeFile, exposed by the test) once the first chunk is hashed, and the answer
# says whether the change was made before the worker had finished.
_HASH_CHOSEN = """async ([chunkSize, slices, change]) => {
  const file = document.getElementById("chosen").files[0];
  const worker = new Worker("/static/sha256-worker.js");
  let changed = false, asked = false;
  const done = await new Promise((resolve, reject) => {
    worker.onmessage = e => {
      if (e.data.type !== "progress") { resolve(e.data); return; }
      if (change && !asked) { asked = true; window.changeFile().then(() => { changed = true; }); }
    };
    worker.onerror = e => reject(new Error(e.message));
    worker.postMessage({file, chunkSize, slices});
  });
  worker.terminate();
  return [done, changed];
}"""


def _rewrite(path: Path) -> None:
    """The same size, other bytes at its start and at its end, a later time."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.write(os.urandom(4096))
        f.seek(size - 4096)
        f.write(os.urandom(4096))
    os.utime(path, (path.stat().st_atime + 10, path.stat().st_mtime + 10))


@pytest.mark.slow
def test_a_file_changed_after_it_was_chosen_is_an_error_not_a_hash(
        web_archive: WebArchive, page: Page, tmp_path: Path) -> None:
    chosen = tmp_path / "chosen.bin"
    page.goto(f"{web_archive.site.url}/login")  # a page of the site, under its CSP
    page.evaluate("""() => { const i = document.createElement("input");
                             i.type = "file"; i.id = "chosen"; document.body.append(i); }""")
    page.expose_function("changeFile", lambda: _rewrite(chosen))
    size = 3 * 65536 + 5
    # changed between the choice and the reading
    for chunk, slices in ((65536, False), (65536, True), (size + 1, False)):
        chosen.write_bytes(os.urandom(size))
        page.set_input_files("#chosen", str(chosen))
        _rewrite(chosen)
        done, _ = page.evaluate(_HASH_CHOSEN, [chunk, slices, False])
        assert (done["type"], bool(done["message"])) == ("error", True), (chunk, slices, done)
    # changed while it is read (after the first chunk): a hash of no version of the file
    # must not come back; the file is made larger until the change lands before the end
    for slices in (False, True):
        for size in (32 << 20, 128 << 20, 512 << 20):
            chosen.write_bytes(bytes(size))
            page.set_input_files("#chosen", str(chosen))
            done, changed = page.evaluate(_HASH_CHOSEN, [1 << 20, slices, True])
            if changed:
                break
        assert changed, "the file was changed only after the worker had read it all"
        assert done["type"] == "error", (slices, done)
        assert slices or done["message"] == "the file changed while it was read"
    # a 0-byte file, unchanged: the hash of nothing, by either way of reading
    chosen.write_bytes(b"")
    page.set_input_files("#chosen", str(chosen))
    for chunk, slices in ((1, False), (1, True), (65536, False)):
        done, _ = page.evaluate(_HASH_CHOSEN, [chunk, slices, False])
        assert (done["type"], done["sha256"], done["bytes"]) == (
            "done", hashlib.sha256(b"").hexdigest(), 0), (chunk, slices)


@pytest.mark.slow
def test_the_javascript_sha256_counts_lengths_past_32_bits_of_bits(
        web_archive: WebArchive, page: Page) -> None:
    # 600 MiB + 7 bytes: a length in bits over 2^32, fed from one reused 1 MiB buffer
    expected = hashlib.sha256()
    zeros = bytes(1 << 20)
    for _ in range(600):
        expected.update(zeros)
    expected.update(b"x" * 7)
    page.goto(f"{web_archive.site.url}/login")
    page.add_script_tag(url="/static/sha256.js")
    got = page.evaluate("""() => {
      const zeros = new Uint8Array(1 << 20), h = new Sha256();
      for (let i = 0; i < 600; i++) h.update(zeros);
      return h.update(new Uint8Array(7).fill(120)).hex();
    }""")
    assert got == expected.hexdigest()
