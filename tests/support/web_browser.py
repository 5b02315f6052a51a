"""Debian's Chromium, driven by Playwright (sync API), for the tests of ``preserver web``
as a person sees it. Playwright never downloads a browser here: every launch names
``/usr/bin/chromium``.

    with launch_chromium() as browser:                       # the `chromium` fixture
        with signed_in_page(browser, site, "archivist", lang="ar", width=390) as page:
            page.goto(site.url + "/reports")
            assert overflowing(page) == []
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.web import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.support.web import WebSite

CHROMIUM = "/usr/bin/chromium"
HEIGHT = 800
OVERFLOW_JS = Path(__file__).with_name("overflow.js")
SCREENSHOTS_ENV = "PRESERVER_WEB_SCREENSHOTS"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for a module's tests (imported by the web tests' conftest);
    each test opens its own context, so no cookie is shared. Module, not session: while
    Playwright's sync API runs, its event loop is this thread's, and ``asyncio.run`` or
    another ``sync_playwright()`` in a later module would fail. A module that also runs
    event loops in its own thread uses ``launch_chromium()`` inside the test instead."""
    with launch_chromium() as browser:
        yield browser


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Headless Chromium from Debian, closed when the block ends."""
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM), f"{CHROMIUM} is needed (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def browser_page(browser: Browser, site: WebSite, *, lang: str, width: int) -> Iterator[Page]:
    """A fresh page (its own cookies) with the ``preserver_lang`` cookie and a window
    ``width`` pixels wide."""
    context = browser.new_context(viewport={"width": width, "height": HEIGHT},
                                  base_url=site.url)
    context.add_cookies([{"name": "preserver_lang", "value": lang, "url": site.url}])
    try:
        yield context.new_page()
    finally:
        context.close()


@contextmanager
def signed_in_page(browser: Browser, site: WebSite, role: str, *, lang: str = "en",
                   width: int = 1280, password: str = PASSWORD) -> Iterator[Page]:
    """A page signed in through the login form as the user named ``role`` (the web
    tests' archive names each user after its role)."""
    with browser_page(browser, site, lang=lang, width=width) as page:
        page.goto("/login")
        page.fill("input[name=name]", role)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("form.login button[type=submit]")
        assert "/login" not in page.url, f"signing in as {role} failed: {page.url}"
        yield page


def overflowing(page: Page) -> list[dict[str, str]]:
    """The elements of the page whose text does not fit (tests/support/overflow.js),
    each as {tag, cls, text, why}; empty when everything fits."""
    lines = OVERFLOW_JS.read_text(encoding="utf-8").splitlines()
    function = "\n".join(line for line in lines if not line.startswith("//"))
    found: list[dict[str, str]] = page.evaluate(function)
    return found


def screenshot(page: Page, directory: Path, name: str) -> Path:
    """A full-page PNG in ``directory``, and a copy in $PRESERVER_WEB_SCREENSHOTS if set."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if extra := os.environ.get(SCREENSHOTS_ENV):
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(extra) / path.name)
    return path
