"""Page evidence from a real browser: screenshot with a banner, rendered HTML, PDF, WARC.

One ``Browser`` (headless Chromium, Debian's package, driven by Playwright with
``executable_path``: nothing downloads a browser) is shared by a capture run; each
target gets a fresh browser context, so no cookie or storage crosses targets.

    async with Browser(settings) as browser:
        outcome = await render_page(browser, job, http, clock=clock)

``render_page`` loads the target's page, lets its scripts settle (network idle, at most
``settle``), scrolls it so lazy content loads, and keeps (``BrowserOutcome.files``):

- ``screenshot``: a full-page PNG, at most ``max_height`` pixels of the page, under a
  banner stamped into the image with the URL as loaded, the UTC time, the capture id
  and the archive's key id (``workers._banner``);
- ``dom``: the page as rendered, after its scripts ran (HTML);
- ``pdf``: the page printed to PDF, when the page is no taller than ``max_height``;
- ``browser``: every request the browser made, as WARC request and response records
  (``workers._browser_net``: fetched through the guarded httpx client).

It never raises for the page's sake: a page that never settles, an endless scroll, a
huge page, pop-ups, downloads, a crashed browser end the part with a reason
(``BrowserOutcome.message``) and whatever was kept. The next page gets a working
browser: a browser that died is started again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import httpx

from workers._banner import Banner, StampFailed, stamp
from workers._browser_net import BrowserNetwork, is_not_a_page
from workers._browser_page import (
    NotAPage,
    TooManyRedirects,
    close_popup,
    navigate,
    scroll,
    settle,
)
from workers._chromium_features import DISABLE_FEATURES
from workers._closing import close_in_turn, to_the_end
from workers._driver import start_driver
from workers._warc import WarcRecorder
from workers.page import _new_record_id
from workers.types import CaptureJob

if TYPE_CHECKING:
    from playwright.async_api import Browser as PwBrowser
    from playwright.async_api import BrowserContext, Page

__all__ = ["Browser", "BrowserFile", "BrowserOutcome", "BrowserSettings", "BrowserUnavailable",
           "chromium_args", "first_line", "is_not_a_page", "launch_chromium", "not_a_page",
           "render_page"]

log = logging.getLogger(__name__)

# Chromium reaches nothing by itself: no name resolves (IP literals and the proxy's
# address included) and the proxy does not answer, so a request that escaped interception
# (a SharedWorker's, a worker's WebSocket, TURN over TCP, a preconnect) fails instead of
# leaving the machine; WebRTC gathers no UDP candidate and sends no UDP (STUN, TURN, ICE
# checks) outside a proxy; no background traffic to Google's services. The WebRTC switch
# is the one Chromium maps to its WebRTC IP handling preference; the older
# "--force-webrtc-ip-handling-policy" is ignored by current Chromium (it let STUN reach
# loopback: tests/hostile/test_browser_ssrf.py).
_CHROMIUM_ARGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=socks5://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-breakpad",
    "--no-first-run",
    "--disable-gpu",
    "--mute-audio",
    "--js-flags=--max-old-space-size=512",  # a page's script heap: a hostile page's bound
    DISABLE_FEATURES,  # no address-bar popups' renderer a context (workers._chromium_features)
)
_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"}


def chromium_args() -> tuple[str, ...]:
    """The command-line switches every Chromium preserver starts gets (see above)."""
    return _CHROMIUM_ARGS


def chromium_env() -> dict[str, str | float | bool]:
    """This process's environment without proxy variables: the browser never uses them."""
    return {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARIABLES}


class BrowserUnavailable(Exception):
    """Chromium could not be started (missing, broken)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (Playwright's carry a call log), at most 300
    characters; its type's name when it has no text."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


async def launch_chromium(executable: str) -> tuple[PwBrowser, Callable[[], Awaitable[None]]]:
    """Start Playwright's driver (its Node options: ``workers._driver``) and Chromium
    (``executable``, a path) with the captures' switches and environment; the browser and
    a function that stops both.

    Failed or cancelled at any point (a run's deadline, an export's timeout), it leaves
    nothing running: the driver's start is shielded, so a driver cancelled mid-start is
    waited for and stopped, never left behind. Playwright's ``Error`` propagates."""
    starting = start_driver()  # a run's first page, an export

    async def stop() -> None:
        try:
            playwright = await asyncio.shield(starting)
        except Exception:  # the driver never started: nothing to stop
            log.debug("the browser's driver did not start", exc_info=True)
            return
        await playwright.stop()

    try:
        playwright = await asyncio.shield(starting)
        browser = await playwright.chromium.launch(
            executable_path=executable, args=list(_CHROMIUM_ARGS), env=chromium_env(),
            headless=True, chromium_sandbox=False, timeout=30_000, handle_sigint=False,
            handle_sigterm=False, handle_sighup=False)
    except BaseException:
        await to_the_end(stop())
        raise
    return browser, stop



@dataclass(frozen=True, kw_only=True)
class BrowserSettings:
    executable: str  # a path (shutil.which of [browser] executable); "" when not found
    concurrency: int = 2
    timeout: float = 60.0
    settle: float = 10.0
    viewport: tuple[int, int] = (1280, 800)
    max_height: int = 15000
    max_bytes: int = 100 * 1024**2  # all responses of one page together
    user_agent: str | None = None


@dataclass(frozen=True, kw_only=True)
class BrowserFile:
    role: str  # screenshot | dom | pdf | browser
    path: Path
    media_type: str


@dataclass(frozen=True, kw_only=True)
class BrowserOutcome:
    """``complete`` when the screenshot and the rendered page were kept."""

    complete: bool
    message: str  # "" when complete; else what is missing and why
    files: tuple[BrowserFile, ...]
    record: dict[str, Any]  # the collection record's "browser" part (canonical-JSON safe)


class Browser:
    """One Chromium for a run, started on first use and again after it died."""

    def __init__(self, settings: BrowserSettings) -> None:
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._lock = asyncio.Lock()
        self._stop: Callable[[], Awaitable[None]] | None = None  # the driver's
        self._browser: PwBrowser | None = None
        self._stamper: Page | None = None  # draws banners; its context fetches nothing
        self._stamping = asyncio.Lock()
        self.version = ""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _ensure(self) -> PwBrowser:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        await self._shutdown()
        if not self.settings.executable:
            raise BrowserUnavailable("Chromium not found: install Debian's chromium package "
                                     "(apt-get install chromium)")
        from playwright.async_api import Error

        try:
            self._browser, self._stop = await launch_chromium(self.settings.executable)
        except Error as exc:
            raise BrowserUnavailable(f"Chromium ({self.settings.executable}) did not start: "
                                     f"{first_line(exc)}") from exc
        self.version = self._browser.version
        return self._browser

    async def stamp(self, image: bytes, banner: Banner) -> tuple[bytes, tuple[int, int]]:
        """``image`` under ``banner`` (``workers._banner.stamp``), on this browser's one
        stamping page."""
        async with self._stamping:
            if self._stamper is None or self._stamper.is_closed():
                async with self._lock:
                    browser = await self._ensure()
                context = await browser.new_context(java_script_enabled=False)
                await context.route("**/*", lambda route: route.abort("blockedbyclient"))
                self._stamper = await context.new_page()
            return await stamp(self._stamper, image, banner)

    async def _shutdown(self) -> None:
        browser, stop = self._browser, self._stop
        self._browser = self._stop = self._stamper = None
        await close_in_turn(browser.close if browser else None, stop)

    async def close(self) -> None:
        async with self._lock:
            await self._shutdown()

    @asynccontextmanager
    async def context(self) -> AsyncIterator[BrowserContext]:
        """A fresh context (no cookies, storage or cache of another target) in a slot."""
        async with self._slots:
            async with self._lock:
                browser = await self._ensure()
            width, height = self.settings.viewport
            context = await browser.new_context(
                viewport={"width": width, "height": height}, accept_downloads=False,
                service_workers="block", user_agent=self.settings.user_agent,
                java_script_enabled=True, ignore_https_errors=False)
            try:
                yield context
            finally:
                try:
                    await context.close()
                except Exception:
                    log.debug("closing a context of a dead browser", exc_info=True)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Progress:
    """What one page has given so far (kept whatever happens next)."""

    files: list[BrowserFile]
    record: dict[str, Any]
    problems: list[str]


def not_a_page(job: CaptureJob, media_type: str, *, chromium: str,
               seen_by: str) -> BrowserOutcome:
    """The browser part of a direct media link: nothing to render, the media part keeps
    it. ``seen_by``: who saw the media type, the page snapshot or the browser."""
    return BrowserOutcome(complete=True, message="", files=(), record={
        "state": "not a page", "content_type": media_type, "seen_by": seen_by,
        "url_requested": job.url, "chromium": chromium})


async def _by(answer: Awaitable[str], deadline_at: float) -> str:
    """``answer``, or ``""`` when it has not come by ``deadline_at`` (loop time)."""
    try:
        async with asyncio.timeout_at(deadline_at):
            return await answer
    except TimeoutError:
        return ""


async def render_page(browser: Browser, job: CaptureJob, http: httpx.AsyncClient, *,
                      clock: Callable[[], datetime],
                      main_type: Awaitable[str] | None = None) -> BrowserOutcome:
    """The browser part of ``job``; never raises for the page's sake (module docstring).

    ``main_type``: the media type the page snapshot got for the page (``""`` when it got
    none), awaited first within the part's time: when it is media (``is_not_a_page``)
    nothing is rendered and Chromium is not started for it."""
    settings = browser.settings
    loop = asyncio.get_running_loop()
    timeout = min(settings.timeout, job.limits.timeout_seconds)
    deadline_at = loop.time() + timeout
    # the page snapshot's answer first: media is not rendered, Chromium not even started
    if main_type is not None and is_not_a_page(kind := await _by(main_type, deadline_at)):
        return not_a_page(job, kind, chromium=browser.version, seen_by="page snapshot")
    from playwright.async_api import Error as PwError  # a page to render: Playwright is needed
    work = job.work_dir / "browser"
    work.mkdir(parents=True, exist_ok=True)
    warc_path = work / "browser.warc.gz"
    progress = _Progress(files=[], record={"url_requested": job.url}, problems=[])

    with warc_path.open("wb") as warc:
        recorder = WarcRecorder(warc, clock, _new_record_id,
                                session=job.access.name if job.access.session else "")
        recorder.warcinfo("Every request headless Chromium made while rendering the page, "
                          "fetched by preserver's guarded client.")
        network = BrowserNetwork(http, recorder, max_bytes_each=job.limits.page_max_bytes,
                                 max_bytes_total=settings.max_bytes, deadline_at=deadline_at,
                                 tmp_dir=work)
        try:
            async with asyncio.timeout_at(deadline_at), browser.context() as context:
                await context.route("**/*", network.handle)
                await context.route_web_socket("**/*", network.refuse_socket)
                await _render(browser, context, job, network, progress, work, clock)
        except TimeoutError:
            progress.problems.append(f"did not finish within {timeout:g} s")
        except NotAPage as exc:  # a direct media link: the media part is the evidence
            return not_a_page(job, str(exc), chromium=browser.version, seen_by="browser")
        except PwError as exc:  # "Page.goto: net::ERR_ADDRESS_UNREACHABLE at …", a crash
            progress.problems.append(first_line(exc))
        except (TooManyRedirects, BrowserUnavailable, StampFailed) as exc:
            progress.problems.append(str(exc))
    stats = network.stats
    if stats.requests or stats.refused:
        progress.files.append(BrowserFile(role="browser", path=warc_path,
                                          media_type="application/warc"))
    progress.record |= {"requests": stats.requests, "refused": stats.refused,
                        "refused_requests": stats.refused_list, "bytes": stats.bytes,
                        "chromium": browser.version, "main_response": network.main_response}
    roles = {f.role for f in progress.files}
    complete = {"screenshot", "dom"} <= roles
    message = "; ".join(progress.problems)
    if not complete and not message:
        message = "no screenshot was taken"
    progress.record["state"] = "complete" if complete else (
        "partial" if roles - {"browser"} else "failed")
    progress.record["message"] = message
    return BrowserOutcome(complete=complete, message=message, files=tuple(progress.files),
                          record=progress.record)


async def _render(browser: Browser, context: BrowserContext, job: CaptureJob,
                  network: BrowserNetwork, progress: _Progress, work: Path,
                  clock: Callable[[], datetime]) -> None:
    settings = browser.settings
    page = await context.new_page()
    network.page = page
    page.on("popup", close_popup)
    page.on("crash", lambda _page: progress.problems.append("the page crashed"))
    url = await navigate(page, job.url, network, limit=job.limits.max_redirects)
    progress.record["url_loaded"] = url
    progress.record["settled"] = await settle(page, network, settings.settle)
    height = await scroll(page, network, settle_for=settings.settle, step=settings.viewport[1],
                          max_height=settings.max_height)
    progress.record["page_height"] = height
    dom = (await page.content()).encode("utf-8")
    if len(dom) > job.limits.page_max_bytes:
        dom = dom[: job.limits.page_max_bytes]
        progress.problems.append(f"rendered page cut at {job.limits.page_max_bytes} bytes")
    (work / "dom.html").write_bytes(dom)
    progress.files.append(BrowserFile(role="dom", path=work / "dom.html", media_type="text/html"))
    shot_height = min(height, settings.max_height)
    if height > settings.max_height:
        progress.problems.append(f"screenshot cut at {settings.max_height} of {height} pixels")
    width = settings.viewport[0]
    taken_at = clock()
    png = await page.screenshot(full_page=True, type="png", animations="disabled",
                                clip={"x": 0, "y": 0, "width": width, "height": shot_height})
    banner = Banner(url=page.url, taken_at=_utc(taken_at), capture_id=job.capture_id,
                    key_id=job.key_id)
    printing = (asyncio.ensure_future(page.pdf(print_background=True))
                if height <= settings.max_height else None)  # meanwhile, on the page
    try:
        stamped, size = await browser.stamp(png, banner)
    except BaseException:
        if printing is not None:
            printing.cancel()
        raise
    (work / "screenshot.png").write_bytes(stamped)
    progress.files.append(BrowserFile(role="screenshot", path=work / "screenshot.png",
                                      media_type="image/png"))
    progress.record["screenshot"] = {"width": size[0], "height": size[1],
                                     "page_pixels": shot_height, "banner": banner.lines(),
                                     "taken_at": _utc(taken_at)}
    if printing is None:
        progress.record["pdf"] = "not printed: the page is taller than max_height"
        return
    (work / "page.pdf").write_bytes(await printing)
    progress.files.append(BrowserFile(role="pdf", path=work / "page.pdf",
                                      media_type="application/pdf"))
