"""Every page as a person sees it: real Chromium (Debian's, through Playwright) signed in
through the login form as archivist, each GET page of the app (tests/support/web_routes.py)
plus the login page and a 404, in English and Arabic, 1280 and 390 pixels wide: a
full-page screenshot of each (in the test's directory, and in $PRESERVER_WEB_SCREENSHOTS
when set), and no text overflowing its box (tests/support/overflow.js)."""

from __future__ import annotations

import subprocess
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.cli import run_cli
from tests.support.web_browser import CHROMIUM, overflowing, screenshot, signed_in_page
from tests.support.web_routes import PUBLIC, endpoints, facts_of

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

    from tests.preserver.web.conftest import WebArchive

pytestmark = pytest.mark.slow
MISSING = "/no-such-page/" + "0123456789abcdef" * 4  # a long unbroken word in a 404


LONG_NAME = "تقرير-المفوضية-السامية-لحقوق-الإنسان-" + "0123456789" * 8 + ".txt"
LONG_URL = "https://example.org/" + "videos/" * 20 + "a" * 150 + "?list=" + "b" * 60


@pytest.fixture(scope="module")
def hostile_report(web_archive: WebArchive) -> str:
    """A second report, only ingested (its links queued): a long unbroken Arabic name,
    long URLs and a long label, as reports have."""
    report = web_archive.report.parent / LONG_NAME
    report.write_text("1- " + "شهادة_طويلة_بلا_مسافات_" * 12 + f"\n{LONG_URL}\n"
                      f"2- {'x' * 200}\nhttps://www.youtube.com/watch?v=Xq3vT9aLm2Q\n",
                      encoding="utf-8")
    run_cli("ingest", str(report), config=web_archive.site.config, check=0)
    return LONG_NAME


def page_urls(web_archive: WebArchive) -> list[str]:
    """The GET pages an archivist sees as HTML: every guarded page route with its samples
    (not the API, static files, downloads or redirects)."""
    facts = facts_of(web_archive.site.config, web_archive.report.name, web_archive.clip_url)
    urls = []
    with closing(web_archive.site.signed_in("archivist")) as client:
        for endpoint in endpoints():
            if endpoint.method != "GET" or endpoint.is_api or endpoint.path == "/static" \
                    or (endpoint.method, endpoint.path) in PUBLIC:
                continue
            url = endpoint.url(facts)
            got = client.get(url)
            if got.status_code == 200 and got.headers["content-type"].startswith("text/html"):
                urls.append(url)
    return urls


def _name(url: str, lang: str, width: int) -> str:
    slug = "".join(c if c.isalnum() else "_" for c in url.strip("/"))[:60] or "index"
    return f"{slug}-{lang}-{width}"


def _check(page: Page, url: str, expected: int, shots: Path, lang: str, width: int) -> list[str]:
    blocked: list[str] = []  # what the Content-Security-Policy refused (an inline style...)

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            blocked.append(message.text)

    page.on("console", listen)
    try:
        response = page.goto(url)
    finally:
        page.remove_listener("console", listen)
    assert response is not None
    if response.status != expected:
        return [f"{url}: {response.status}, not {expected}"]
    return _look(page, url, shots, _name(url, lang, width), lang) + [
        f"{url}: {text}" for text in blocked]


def _look(page: Page, url: str, shots: Path, name: str, lang: str) -> list[str]:
    assert page.locator("html").get_attribute("lang") == lang
    screenshot(page, shots, name)
    return [f"{url}: <{o['tag']} class={o['cls']!r}> {o['text']!r}: {o['why']}"
            for o in overflowing(page)]


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "ar"])
def test_no_text_overflows(web_archive: WebArchive, hostile_report: str, chromium: Browser,
                           tmp_path: Path, lang: str, width: int) -> None:
    site = web_archive.site
    pages = page_urls(web_archive)
    assert "/reports" in pages
    problems = []
    with closing(site.signed_in("viewer")) as client:
        assert hostile_report in client.get("/reports").text
    with signed_in_page(chromium, site, "archivist", lang=lang, width=width) as page:
        for url in [*pages, MISSING]:
            problems += _check(page, url, 404 if url == MISSING else 200, tmp_path, lang, width)
        page.context.clear_cookies()
        page.context.add_cookies([{"name": "preserver_lang", "value": lang, "url": site.url}])
        problems += _check(page, "/login?next=%2Freports", 200, tmp_path, lang, width)
        page.fill("input[name=name]", "nobody-" + "x" * 57)  # the longest name, unknown
        page.fill("input[name=password]", "not the password, and long: " + "y" * 80)
        with page.expect_navigation():
            page.click("form.login button[type=submit]")
        assert page.locator("p.error[role=alert]").count() == 1
        problems += _look(page, "/login (failed)", tmp_path, f"login-failed-{lang}-{width}",
                          lang)
    assert not problems, f"text overflows at {width}px in {lang}:\n" + "\n".join(problems)


def test_the_overflow_check_finds_a_long_word(chromium: Browser) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 600})
    try:
        page = context.new_page()
        page.set_content('<p class="long" style="width: 100px">' + "a" * 120 + "</p>"
                         '<div style="overflow-x: auto"><table><tr><td>' + "b" * 200
                         + "</td></tr></table></div>")
        found = overflowing(page)
    finally:
        context.close()
    assert [o["cls"] for o in found] == ["long", ""]  # the paragraph, and the page's width
    assert "content" in found[0]["why"]
    assert found[1]["tag"] == "html"


def test_chromium_is_debians(chromium: Browser) -> None:
    # Playwright was handed /usr/bin/chromium, and downloaded nothing
    installed = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True,
                               check=True, timeout=60).stdout
    assert chromium.version in installed
