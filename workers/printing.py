"""Print a self-contained HTML page to PDF with the Chromium the captures use.

Debian's ``chromium`` (``[browser] executable``) is driven by Playwright through
``executable_path``, with the switches and environment of the capture's browser
(``workers.browser.launch_chromium``: no name resolves, no proxy from the environment, no
background traffic): nothing downloads a browser. The page may hold nothing but itself
and ``data:`` URIs: scripts are off and every request it would make is aborted, so a
printed page can neither fetch nor leak anything.

    >>> pdf = await print_pdf("<p>hello</p>", executable="chromium", timeout=30)
    >>> pdf[:5]
    b'%PDF-'

``Printer`` keeps one browser for many pages: starting Playwright's driver and
Chromium costs about a second, a further page about 0.15 s (measured for the
capture certificates, docs/design.md "Evidence package"), so an export prints all
its certificates with one. Each page gets a fresh context.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from workers._closing import to_the_end
from workers.browser import first_line, launch_chromium
from workers.errors import PrintFailed

if TYPE_CHECKING:
    from playwright.async_api import Browser, Route

log = logging.getLogger(__name__)


async def _abort(route: Route) -> None:
    await route.abort()


class Printer:
    """One headless Chromium that prints pages to PDF; ``async with`` starts and stops it.

    ``PrintFailed`` when the browser cannot be found or started, or a page cannot be
    printed within ``timeout`` seconds (each start and each page has the whole of it).
    """

    def __init__(self, *, executable: str, timeout: float) -> None:
        self.executable = executable
        self.timeout = timeout
        self._stop: Callable[[], Awaitable[None]] | None = None  # the driver's
        self._browser: Browser | None = None

    async def __aenter__(self) -> Self:
        path = shutil.which(self.executable)
        if path is None:
            raise PrintFailed(f"Chromium was not found ({self.executable!r}); install Debian's "
                              "chromium package or set [browser] executable")
        from playwright.async_api import Error

        try:
            async with asyncio.timeout(self.timeout):  # nothing is left running past it
                self._browser, self._stop = await launch_chromium(path)
        except (Error, OSError, TimeoutError) as exc:
            raise PrintFailed(f"Chromium ({path}) did not start: "
                              f"{_reason(exc, self.timeout)}") from exc
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def print(self, html: str) -> bytes:
        """``html`` as an A4 PDF, backgrounds printed; nothing it refers to is fetched."""
        if self._browser is None:
            raise PrintFailed("the printer is not started (use `async with Printer(...)`)")
        from playwright.async_api import Error

        context = None
        try:
            async with asyncio.timeout(self.timeout):
                context = await self._browser.new_context(java_script_enabled=False,
                                                          service_workers="block")
                await context.route("**/*", _abort)
                page = await context.new_page()
                await page.set_content(html, wait_until="load")
                return await page.pdf(format="A4", print_background=True)
        except (Error, OSError, TimeoutError) as exc:
            raise PrintFailed(f"Chromium could not print the page: "
                              f"{_reason(exc, self.timeout)}") from exc
        finally:
            if context is not None:
                await _quietly(context.close())

    async def close(self) -> None:
        """Stop the browser and the driver; safe to call twice, never raises their errors."""
        browser, stop = self._browser, self._stop
        self._browser = self._stop = None

        async def closing() -> None:
            if browser is not None:
                await _quietly(browser.close())
            if stop is not None:
                await _quietly(stop())

        await to_the_end(closing())  # cancelled meanwhile: the driver is still stopped


async def print_pdf(html: str, *, executable: str, timeout: float) -> bytes:
    """Start Chromium, print ``html`` to PDF, stop it; all within ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout), Printer(executable=executable,
                                                     timeout=timeout) as printer:
            return await printer.print(html)
    except TimeoutError as exc:
        raise PrintFailed(f"Chromium could not print the page: timed out after {timeout:g} s"
                          ) from exc


def _reason(exc: BaseException, timeout: float) -> str:
    return f"timed out after {timeout:g} s" if isinstance(exc, TimeoutError) else first_line(exc)


async def _quietly(closing: Awaitable[object]) -> None:
    """Await a close; a browser that already died has nothing left to close."""
    from playwright.async_api import Error

    try:
        async with asyncio.timeout(10):
            await closing
    except (Error, OSError, TimeoutError):
        log.debug("closing the printing browser failed", exc_info=True)
