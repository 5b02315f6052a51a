"""The steps of loading one page in the browser: navigate (following main-frame
redirects), settle (load event, then network idle as the interception sees it), scroll
(lazy content), measure. ``workers.browser`` runs them; see its docstring."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from workers._browser_net import BrowserNetwork

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["NotAPage", "TooManyRedirects", "close_popup", "navigate", "page_height", "scroll", "settle"]

_SCROLL_PAUSE = 0.15  # seconds between scroll steps
_IDLE_AFTER_SCROLL = 2.0  # seconds of network idle waited for once scrolled
_QUIET = 0.25  # seconds without a request that count as network idle


class TooManyRedirects(Exception):
    pass


class NotAPage(Exception):
    """The link is a media file (``BrowserNetwork.not_a_page``), not a page to render."""


async def navigate(page: Page, url: str, network: BrowserNetwork, *, limit: int) -> str:
    """Load ``url`` in the main frame, following redirects (recorded by the network)."""
    from playwright.async_api import Error as PwError

    for _ in range(limit + 1):
        network.redirect_to = None
        try:
            await page.goto(url, wait_until="commit")  # settle waits for the load event
        except PwError:
            if network.not_a_page:
                raise NotAPage(network.not_a_page) from None
            if network.redirect_to is None:
                raise
            url = network.redirect_to
            continue
        return page.url
    raise TooManyRedirects(f"too many redirects (more than {limit})")


async def settle(page: Page, network: BrowserNetwork, settle: float) -> bool:
    """Wait for the load event, then for the network to be idle (no request under way
    and none for ``_QUIET`` seconds, as the route handler sees them), at most ``settle``
    seconds in all. Whether it settled."""
    from playwright.async_api import TimeoutError as PwTimeout

    loop = asyncio.get_running_loop()
    until = loop.time() + settle
    try:
        await page.wait_for_load_state("load", timeout=settle * 1000)
    except PwTimeout:
        return False
    while not network.quiet(_QUIET):
        if loop.time() >= until:
            return False
        await asyncio.sleep(0.05)
    return True


async def scroll(page: Page, network: BrowserNetwork, *, settle_for: float, step: int,
                 max_height: int) -> int:
    """Scroll down a screen at a time (lazy content loads) until the bottom, ``max_height``
    or ``settle`` seconds; then back to the top, and wait for network idle again if the
    scrolling made requests. Returns the page's height in pixels."""
    stats = network.stats
    before = stats.requests + stats.refused
    loop = asyncio.get_running_loop()
    until = loop.time() + settle_for
    position = 0
    height = await page_height(page)
    while position + step < min(height, max_height) and loop.time() < until:
        position += step
        await page.evaluate("y => window.scrollTo(0, y)", position)
        await asyncio.sleep(_SCROLL_PAUSE)
        height = await page_height(page)
    await page.evaluate("() => window.scrollTo(0, 0)")
    if stats.requests + stats.refused != before:
        await settle(page, network, min(_IDLE_AFTER_SCROLL, max(until - loop.time(), 0.1)))
    return await page_height(page)


async def page_height(page: Page) -> int:
    value = await page.evaluate(
        "() => Math.max(document.documentElement ? document.documentElement.scrollHeight : 0,"
        " document.body ? document.body.scrollHeight : 0)")
    return max(int(value) if isinstance(value, int | float) else 0, 1)


async def close_popup(popup: Page) -> None:
    try:
        await popup.close()
    except Exception:  # noqa: BLE001 (already gone)
        return
