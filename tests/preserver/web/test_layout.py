"""Every page as a person sees it: real Chromium (Debian's, through Playwright) signed in
through the login form as archivist, each GET page of the app (tests/support/web_routes.py)
plus the login page and a 404, in English and Arabic, 1280 and 390 pixels wide: a
full-page screenshot of each (in the test's directory, and in $PRESERVER_WEB_SCREENSHOTS
when set), and no text overflowing its box (tests/support/overflow.js)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.web_browser import overflowing, screenshot, signed_in_page
from tests.support.web_routes import PUBLIC, endpoints, facts_of

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.preserver.web.conftest import WebArchive

pytestmark = pytest.mark.slow
MISSING = "/no-such-page/" + "0123456789abcdef" * 4  # a long unbroken word in a 404


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
    response = page.goto(url)
    assert response is not None
    if response.status != expected:
        return [f"{url}: {response.status}, not {expected}"]
    assert page.locator("html").get_attribute("lang") == lang
    screenshot(page, shots, _name(url, lang, width))
    return [f"{url}: <{o['tag']} class={o['cls']!r}> {o['text']!r}: {o['why']}"
            for o in overflowing(page)]


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "ar"])
def test_no_text_overflows(web_archive: WebArchive, chromium: Browser, tmp_path: Path,
                           lang: str, width: int) -> None:
    site = web_archive.site
    pages = page_urls(web_archive)
    assert "/reports" in pages
    problems = []
    with signed_in_page(chromium, site, "archivist", lang=lang, width=width) as page:
        for url in [*pages, MISSING]:
            problems += _check(page, url, 404 if url == MISSING else 200, tmp_path, lang, width)
        page.context.clear_cookies()
        page.context.add_cookies([{"name": "preserver_lang", "value": lang, "url": site.url}])
        problems += _check(page, "/login?next=%2Freports", 200, tmp_path, lang, width)
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
    assert chromium.version.split(".")[0].isdigit()
    assert httpx  # the same client as the role matrix, for page_urls
