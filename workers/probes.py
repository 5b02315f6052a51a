"""Availability probes: is a link still up, and if not, what does the platform say?

Statuses are the contract list of docs/design.md "Availability statuses"; an
inconclusive one (``bot_check``, ``rate_limited``, ``error``, ``unknown``) never
changes a target's state, so every doubt goes there, never to a down status. A
wall (``ProbeResult.wall``: yt-dlp's bot check or login wall, Facebook's login
page, a web page that is a login form, ``workers.walls``) is inconclusive too,
whatever its status: it is what we were shown, not what the link is.

- **YouTube**: the oEmbed endpoint first, one small request (docs/yt-dlp.md
  "YouTube oEmbed"). 200 with JSON and 401 (embedding disabled) mean the video
  exists; 403, or a body of ``Forbidden`` even under 200, means private; 429 is
  ``rate_limited``; yt-dlp's bot check ``bot_check``. Anything else (404, 400, 5xx, a network error) is only a
  suspicion: a yt-dlp metadata probe (``download=False``, in the capture's
  killable child, ``_probe_child``) then gives the platform's reason, mapped by
  ``classify`` (probe ``oembed+yt-dlp``). A bare ``Video unavailable`` stays
  ``unknown``.
- **Facebook**: the yt-dlp probe, then, unless it found the video, the page
  itself. Facebook shows the same login wall and the same "This content isn't
  available" page for deleted and restricted posts, so those statuses say that
  the answer is ambiguous.
- **Web**: one GET; the status code maps through ``classify.http_status``; a 2xx
  page that is a login wall is ``login_required`` with ``wall``.

Access: a target's ``access`` (``Access.for_probes()``) may carry a session and a
proxy: ``http`` must then be the client of that access (``preserver.net.Clients``:
with its cookies file, through its proxy), and the yt-dlp probe loads the same cookies
into its jar (``_probe_child``) and goes through the child's guard proxy. A probe never
falls back from direct to the proxy (``proxy_on_failure_only`` probes go direct): an
inconclusive answer is asked again later anyway.

Politeness: the caller holds a ``HostLimiter`` slot (concurrency); a
``RateLimiter`` passed to ``probe`` spaces requests per host group, with
jitter, and is paused after a 429 or a bot check (``Retry-After`` when given).

    async with make_client(allow_private=False, timeout=10.0) as http:
        result = await probe(ProbeTarget(key="youtube:45WIwFETn3E",
                                         url="https://youtu.be/45WIwFETn3E", platform="youtube"),
                             http=http, settings=ProbeSettings(limits=Limits(...)), rate=rate)
    result.status, result.probe, result.message
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from dataclasses import dataclass, field

import httpx

from workers._probe_child import ProbeRequest, YtdlpAnswer, run_ytdlp_probe
from workers.access import Access
from workers.classify import http_status
from workers.errors import AddressRefused
from workers.limits import RateLimiter
from workers.platforms import Platform, platform_url, youtube_watch_url
from workers.types import Limits, Status
from workers.walls import login_wall

__all__ = ["DEFAULT_OEMBED_URL", "ProbeResult", "ProbeSettings", "ProbeTarget", "RateLimiter",
           "probe"]  # RateLimiter lives in workers.limits; re-exported where probes take it

DEFAULT_OEMBED_URL = platform_url(Platform.YOUTUBE, "/oembed")
_SMALL = 64 * 1024  # oEmbed answers and web pages: the status is what counts
_BACKOFF = 60.0  # seconds a host group pauses after a 429 or bot check without Retry-After
_MAX_BACKOFF = 3600.0
_YOUTUBE_ID = re.compile(r"[\w-]{11}")
_FB_GONE = re.compile(r"content isn't available", re.IGNORECASE)
_BLOCKED = (Status.RATE_LIMITED, Status.BOT_CHECK)
FB_LOGIN_NOTE = "Facebook shows a login wall; the post may also be deleted (ambiguous)"
FB_GONE_NOTE = "(Facebook: ambiguous between removed and restricted)"


@dataclass(frozen=True, kw_only=True)
class ProbeTarget:
    key: str  # e.g. "youtube:45WIwFETn3E"
    url: str
    platform: str  # "youtube" | "facebook" | "web"
    # what the probe uses (``Access.for_probes()`` of the target's group): its session's
    # cookies and, if ``proxied``, its proxy for the yt-dlp probe; the caller passes the
    # matching ``http`` client
    access: Access = field(default_factory=Access)


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    status: Status
    http_status: int | None  # oEmbed's (YouTube) or the page's (Facebook, web) last answer
    message: str  # the platform's words, or what went wrong; "" when available
    probe: str  # "oembed" | "yt-dlp" | "page" | "oembed+yt-dlp" | "yt-dlp+page"
    transient: bool  # worth asking again soon (network, 5xx, 429, bot checks)
    # a wall answered, not the link (a bot check, a login wall): inconclusive whatever the
    # status, it never changes a target's state (docs/design.md "Walls")
    wall: bool = False


@dataclass(frozen=True, kw_only=True)
class ProbeSettings:
    """``[probes.youtube] oembed_url`` and the bounds of one probe.

    ``limits.timeout_seconds`` bounds each step; ``socket_timeout_seconds`` is
    yt-dlp's; ``max_bytes`` caps the Facebook page read (1 MiB is plenty).
    ``extractors`` (``"module:Class"``) are tried before yt-dlp's own: tests
    stand in for YouTube and Facebook with them.
    """

    limits: Limits
    oembed_url: str = DEFAULT_OEMBED_URL
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()
    extractors: tuple[str, ...] = ()


async def probe(
    target: ProbeTarget,
    *,
    http: httpx.AsyncClient,
    settings: ProbeSettings,
    rate: RateLimiter | None = None,
) -> ProbeResult:
    """Probe one target. Never raises for what the link or the network does."""
    p = _Probe(target, http, settings, rate)
    if target.platform == "youtube":
        return await p.youtube()
    if target.platform == "facebook":
        return await p.facebook()
    return await p.web()


@dataclass(frozen=True)
class _Page:
    code: int
    body: bytes
    retry_after: str | None
    url: str  # after redirects


class _Probe:
    def __init__(self, target: ProbeTarget, http: httpx.AsyncClient, settings: ProbeSettings,
                 rate: RateLimiter | None) -> None:
        self.target, self.http, self.settings, self.rate = target, http, settings, rate

    # -- steps ----------------------------------------------------------------------------
    async def fetch(self, url: str, *, limit: int, params: dict[str, str] | None = None,
                    ) -> _Page | ProbeResult:
        """GET ``url``, reading at most ``limit`` bytes; a network failure is a result."""
        if self.rate is not None:
            await self.rate.wait(url)
        deadline = self.settings.limits.timeout_seconds

        def failed(message: str, transient: bool) -> ProbeResult:
            return ProbeResult(status=Status.ERROR, http_status=None, message=message,
                               probe="page", transient=transient)

        try:
            async with asyncio.timeout(deadline):
                async with self.http.stream("GET", url, params=params) as response:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():  # decoded: pages are searched
                        body += chunk
                        if len(body) >= limit:
                            break
                    return _Page(response.status_code, bytes(body[:limit]),
                                 response.headers.get("Retry-After"), str(response.url))
        except AddressRefused as exc:  # a hop to a refused address: final, not a fact about the link
            return failed(str(exc), False)
        except TimeoutError:
            return failed(f"timed out after {deadline:g} s", True)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return failed(f"unsupported URL: {exc}", False)
        except httpx.TooManyRedirects:
            return failed(f"too many redirects (more than {self.http.max_redirects})", False)
        except httpx.TimeoutException as exc:
            return failed(f"timed out: {exc!r}", True)
        except httpx.HTTPError as exc:  # connect, protocol and read errors
            return failed(f"{type(exc).__name__}: {exc}", True)

    async def ytdlp(self, url: str) -> YtdlpAnswer:
        if self.rate is not None:
            await self.rate.wait(url)
        s, access = self.settings, self.target.access
        answer = await run_ytdlp_probe(
            ProbeRequest(url=url, socket_timeout=s.limits.socket_timeout_seconds,
                         allow_private=s.allow_private, allow_networks=s.allow_networks,
                         extractors=s.extractors, cookies_file=access.cookies_file,
                         proxy=access.proxy if access.proxied else None,
                         extractor_args=access.ytdlp_extractor_args({})),
            timeout=s.limits.timeout_seconds,
        )
        if answer.status in _BLOCKED:  # a bot check or rate limit: give the platform a rest
            self.backoff(url, None)
        return answer

    def backoff(self, url: str, retry_after: str | None) -> None:
        if self.rate is None:
            return
        seconds = _BACKOFF
        if retry_after is not None and retry_after.strip().isdigit():
            seconds = min(max(float(retry_after.strip()), 1.0), _MAX_BACKOFF)
        self.rate.penalize(url, seconds)

    def rate_limited(self, url: str, page: _Page, probe: str) -> ProbeResult:
        self.backoff(url, page.retry_after)
        return ProbeResult(status=Status.RATE_LIMITED, http_status=page.code, probe=probe,
                           message=f"HTTP {page.code}", transient=True)

    # -- platforms ------------------------------------------------------------------------
    async def youtube(self) -> ProbeResult:
        watch = _watch_url(self.target)
        oembed = self.settings.oembed_url
        page = await self.fetch(oembed, limit=_SMALL, params={"url": watch, "format": "json"})
        code: int | None = None
        if isinstance(page, ProbeResult):
            oembed_said = page.message
        else:
            code, oembed_said = page.code, f"HTTP {page.code}"

            def up(message: str, status: Status = Status.AVAILABLE) -> ProbeResult:
                return ProbeResult(status=status, http_status=code, message=message,
                                   probe="oembed", transient=False)

            if page.code == 403 or page.body.strip() == b"Forbidden":
                return up("oEmbed: Forbidden (private video)", Status.PRIVATE)
            if page.code == 401:
                return up("")  # exists; its owner disabled embedding
            if page.code == 429:
                return self.rate_limited(oembed, page, "oembed")
            if page.code == 200 and _is_json_object(page.body):
                return up("")
        # (2) Not clearly up: 404/400 are suspects, 5xx and network errors say nothing.
        answer = await self.ytdlp(watch)
        message = f"{answer.message} (oEmbed: {oembed_said})" if answer.message else ""
        return ProbeResult(status=answer.status, http_status=code, message=message,
                           probe="oembed+yt-dlp", transient=answer.transient, wall=answer.wall)

    async def facebook(self) -> ProbeResult:
        url = self.target.url
        answer = await self.ytdlp(url)
        if answer.status is Status.AVAILABLE and not answer.no_media:
            return ProbeResult(status=Status.AVAILABLE, http_status=None, message="",
                               probe="yt-dlp", transient=False)
        if answer.status in _BLOCKED:  # asking again now would make it worse
            return ProbeResult(status=answer.status, http_status=None, message=answer.message,
                               probe="yt-dlp", transient=True, wall=answer.wall)
        page = await self.fetch(url, limit=self.settings.limits.max_bytes)
        if isinstance(page, ProbeResult):
            return _result(answer, None, f"{answer.message} (page: {page.message})")
        text = html.unescape(page.body.decode("utf-8", "replace")).replace("\u2019", "'")

        def said(status: Status, note: str) -> ProbeResult:
            return ProbeResult(status=status, http_status=page.code, message=note,
                               probe="yt-dlp+page", transient=False)

        if page.code == 429:
            return self.rate_limited(url, page, "yt-dlp+page")
        if _FB_GONE.search(text):  # checked first: this page carries a login form too
            return said(Status.NOT_FOUND, f"This content isn't available {FB_GONE_NOTE}")
        if login_wall(page.body, url=url, final_url=page.url, platform="facebook"):
            words = f" (yt-dlp: {answer.message})" if answer.message else ""
            return ProbeResult(status=Status.LOGIN_REQUIRED, http_status=page.code,
                               message=FB_LOGIN_NOTE + words, probe="yt-dlp+page",
                               transient=True, wall=True)
        if http_status(page.code)[0] is Status.NOT_FOUND:
            return said(Status.NOT_FOUND, f"HTTP {page.code}")
        if answer.status in (Status.UNKNOWN, Status.LOGIN_REQUIRED) and not answer.transient:
            return _result(answer, page.code, f"{answer.message} {FB_GONE_NOTE}")
        return _result(answer, page.code, answer.message)

    async def web(self) -> ProbeResult:
        url = self.target.url
        page = await self.fetch(url, limit=_SMALL)
        if isinstance(page, ProbeResult):
            return page
        if page.code == 429:
            return self.rate_limited(url, page, "page")
        status, transient = http_status(page.code)
        if status is Status.AVAILABLE and (wall := login_wall(page.body, url=url,
                                                              final_url=page.url)):
            return ProbeResult(status=Status.LOGIN_REQUIRED, http_status=page.code,
                               message=f"wall (login): {wall}", probe="page", transient=True,
                               wall=True)
        message = "" if status is Status.AVAILABLE else f"HTTP {page.code}"
        return ProbeResult(status=status, http_status=page.code, message=message, probe="page",
                           transient=transient)


def _result(answer: YtdlpAnswer, code: int | None, message: str) -> ProbeResult:
    return ProbeResult(status=answer.status, http_status=code, message=message.strip(),
                       probe="yt-dlp+page", transient=answer.transient, wall=answer.wall)


def _watch_url(target: ProbeTarget) -> str:
    """The canonical watch URL oEmbed and yt-dlp are asked about."""
    _platform, _, video_id = target.key.partition(":")
    if _YOUTUBE_ID.fullmatch(video_id):
        return youtube_watch_url(video_id)
    return target.url


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:  # includes UnicodeDecodeError
        return False
