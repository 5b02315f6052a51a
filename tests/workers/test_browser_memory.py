"""What keeps the browser small (docs/design.md "Browser evidence", why Playwright), with real Chromium: no
address-bar WebUI renderer per window, Playwright's own disabled features kept, and the
banner stacked above the page's pixels without changing one."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.support.browser import CHROMIUM, browser_job, browser_settings
from tests.support.fixture_site import FixtureSite, html_page
from tests.support.procs import descendants
from workers._banner import BANNER_HEIGHT, Banner
from workers.browser import Browser, render_page

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                "(.ci/run installs it)")


def _features(cmdline: list[str]) -> list[set[str]]:
    return [set(part.split("=", 1)[1].split(",")) for part in cmdline
            if part.startswith("--disable-features=")]


@pytest.mark.slow
async def test_two_contexts_get_no_webui_renderer_and_keep_playwrights_features(
        tmp_path: Path, site: FixtureSite, http: httpx.AsyncClient) -> None:
    """Chromium keeps only the last ``--disable-features``: ours must hold all of
    Playwright's (the first), and turn off the omnibox popups that cost a renderer a
    window (two "chrome://omnibox-popup.top-chrome" pages)."""
    url = site.add_bytes("/p", html_page(body="<p>page</p>"), "text/html")
    async with Browser(browser_settings()) as browser:
        async with browser.context() as first, browser.context() as second:
            for context in (first, second):
                page = await context.new_page()
                await page.set_content("<p>page</p>")
            # Chromium rewrites its command line as one string: split on spaces
            processes = [(pid, line.split()) for pid, line in descendants()]
            assert browser._browser is not None
            session = await browser._browser.new_browser_cdp_session()
            targets = (await session.send("Target.getTargets", {"filter": [{}]}))["targetInfos"]
        outcome = await render_page(browser, browser_job(tmp_path, url, ("127.0.0.1/32",)),
                                    http, clock=lambda: datetime.now(UTC))
    assert outcome.complete, outcome.message
    renderers = [c for _, c in processes if "--type=renderer" in c]
    assert renderers and not [c for c in renderers if "--top-chrome-webui" in c]
    assert not [t["url"] for t in targets if "top-chrome" in t["url"]]
    main = [c for _, c in processes if "--remote-debugging-pipe" in c and
            not any(part.startswith("--type=") for part in c)]
    assert len(main) == 1
    playwrights, *_, ours = _features(main[0])
    assert {"WebUIOmniboxPopup", "WebUIOmniboxAimPopup"} <= ours
    assert playwrights <= ours, f"Playwright disables more now: {playwrights - ours}"


@pytest.mark.slow
async def test_the_page_pixels_are_kept_exactly_under_the_banner() -> None:
    """The stamped screenshot is the banner, then the page's screenshot byte for byte in
    its pixels (nothing re-rendered, scaled or colour-converted)."""
    banner = Banner(url="https://example.org/مرحبا", taken_at="2026-03-04T05:06:07Z",
                    capture_id="c-1", key_id="ab" * 32)
    async with Browser(browser_settings()) as browser, browser.context() as context:
        page = await context.new_page()
        await page.set_content('<div style="height: 2500px; background: linear-gradient('
                               'red, blue)"></div><p style="color: #0a0">text</p>')
        shot = await page.screenshot(full_page=True, type="png")
        stamped, size = await browser.stamp(shot, banner)
    with Image.open(io.BytesIO(shot)) as original, Image.open(io.BytesIO(stamped)) as image:
        original.load()
        image.load()
        assert size == image.size == (original.width, original.height + BANNER_HEIGHT)
        assert image.crop((0, BANNER_HEIGHT, *image.size)).tobytes() == original.tobytes()
        assert image.convert("RGB").getpixel((400, 3)) == (0x1b, 0x1b, 0x1b)
