"""Every request the browser makes, fetched by preserver's guarded httpx client and recorded.

Chromium itself reaches nothing: it is started with a host resolver that finds no name
and a proxy that does not answer (``workers.browser``), and every request a page makes
(document, subresource, script fetch, iframe) is intercepted by ``BrowserNetwork.handle``
(Playwright's ``context.route``). The handler sends it through the same httpx client as
the page snapshot, whose transport refuses loopback, private, link-local and metadata
addresses unless ``[network]`` allows them (``workers.net.SafeTransport``: resolve once,
check, connect to the checked address), writes each hop as WARC request and response
records, and hands the response to the browser (``route.fulfill``). So one address rule
holds for both, and the WARC holds what the page was built from.

What the browser is not given:

- WebSockets (``refuse_socket``), service workers (blocked by the context), event
  streams and media (``<video>``, ``<audio>``: the media part keeps the media; the
  player's poster still renders) are refused, and counted.
- Cookies: the browser's ``Cookie`` is not forwarded and ``Set-Cookie`` is not handed
  to the browser, so no cookie a server sets is kept or sent back (docs/design.md
  "Network and safety"). With a session (``[access.<group>] cookies_file``) the httpx
  client adds the session's cookies to the requests it sends for the browser; the
  browser itself never holds them, so a page's script cannot read them
  (``document.cookie`` stays empty) and neither can the DOM or the screenshot.
- A response over ``max_bytes_each``, or past the capture's ``max_bytes_total`` or
  ``MAX_REQUESTS``, or cut by the deadline: recorded (``WARC-Truncated``), then refused.
- Another document for the main frame once it has one: the page navigating itself to a
  refused address is aborted without an error page (``_abort_code``), so the evidence
  stays the page.

Not every request reaches ``handle``: a SharedWorker's, a dedicated worker's WebSocket,
TURN over TCP, Chromium's own payment-manifest fetches and preconnects bypass
interception; Chromium's switches (``workers.browser``) make them fail.

Redirects: Chromium does not send the request a fulfilled 3xx points to through the
interception (it would go to the dead proxy), so the handler follows redirects itself,
recording every hop, and fulfills the final response. For the main frame's navigation it
instead aborts and names the next URL (``redirect_to``), so that the page is loaded under
its real address (``workers.browser`` navigates again).
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from workers._warc import Body, WarcRecorder, server_ip
from workers.errors import AddressRefused
from workers.page import read_body
from workers.userinfo import without_userinfo

if TYPE_CHECKING:
    from playwright.async_api import Page, Route, WebSocketRoute

__all__ = ["MAX_REQUESTS", "BrowserNetwork", "is_not_a_page"]

MAX_REQUESTS = 1000  # requests one page may make; more are refused
MAX_LISTED = 20  # refused requests listed by URL in the collection record
_REFUSED_KINDS = {"media": "media (kept by the media part)", "eventsource": "event stream",
                  "websocket": "WebSocket"}
# Request headers the browser sets that preserver's client sets itself or never sends.
_NOT_FORWARDED = {"host", "cookie", "content-length", "connection", "accept-encoding",
                  "transfer-encoding", "keep-alive", "upgrade", "proxy-authorization",
                  "proxy-connection", "te"}
# Response headers not handed to the browser: cookies never, framing as fulfilled.
_NOT_FULFILLED = {"set-cookie", "set-cookie2", "content-encoding", "content-length",
                  "transfer-encoding", "connection", "keep-alive"}


@dataclass
class NetworkStats:
    """What the browser asked for and what it was given (the collection record's part)."""

    requests: int = 0  # fetched and handed to the browser
    refused: int = 0
    bytes: int = 0  # bodies as transferred
    refused_list: list[dict[str, str]] = field(default_factory=list)

    def refuse(self, url: str, reason: str) -> None:
        self.refused += 1
        if len(self.refused_list) < MAX_LISTED:
            self.refused_list.append({"url": without_userinfo(url)[:500], "reason": reason})


@dataclass(frozen=True)
class _Fetched:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class BrowserNetwork:
    """The route handler of one page's browser context; see the module docstring."""

    def __init__(self, client: httpx.AsyncClient, recorder: WarcRecorder, *,
                 max_bytes_each: int, max_bytes_total: int, deadline_at: float,
                 tmp_dir: Path) -> None:
        self._client, self._recorder = client, recorder
        self._each, self._total = max_bytes_each, max_bytes_total
        self._deadline_at, self._tmp_dir = deadline_at, tmp_dir
        self.stats = NetworkStats()
        self.redirect_to: str | None = None  # where the main frame's navigation was sent
        self.main_response: dict[str, Any] | None = None  # status, url, ip of the main document
        self.page: Page | None = None  # the captured page (set once it exists)
        self.not_a_page = ""  # the main document's media type when it is media, not a page
        self.loaded = False  # the main frame was given a document: later navigations are the page's
        self.in_flight = 0  # requests being handled now
        self.last_activity = 0.0  # loop time a request was last started or finished

    async def refuse_socket(self, socket: WebSocketRoute) -> None:
        self.stats.refuse(socket.url, _REFUSED_KINDS["websocket"])
        await socket.close(code=1008, reason="refused by preserver")

    async def handle(self, route: Route) -> None:
        loop = asyncio.get_running_loop()
        self.in_flight += 1
        self.last_activity = loop.time()
        try:
            await self._handle(route)
        finally:
            self.in_flight -= 1
            self.last_activity = loop.time()

    def quiet(self, seconds: float) -> bool:
        """Whether no request is under way and none started or ended for ``seconds``."""
        loop = asyncio.get_running_loop()
        return self.in_flight == 0 and loop.time() - self.last_activity >= seconds

    async def _handle(self, route: Route) -> None:
        request = route.request
        main = request.is_navigation_request() and self._main_frame(route)
        reason = self._refusal(request.url, request.resource_type)
        if reason is not None:
            self.stats.refuse(request.url, reason)
            await _abort(route, self._abort_code(main, "blockedbyclient"))
            return
        try:
            fetched = await self._fetch(request.method, request.url, await request.all_headers(),
                                        request.post_data_buffer or b"", main=main)
        except _Refused as exc:
            self.stats.refuse(request.url, str(exc))
            await _abort(route, self._abort_code(main, exc.error_code))
            return
        if fetched is None:  # the main frame was redirected: the browser navigates again
            await _abort(route, "aborted")
            return
        self.stats.requests += 1
        self.loaded = self.loaded or main
        await route.fulfill(status=fetched.status, headers=dict(fetched.headers),
                            body=fetched.body)

    def _abort_code(self, main: bool, code: str) -> str:
        """How a refused request is failed. The captured page navigating itself once its
        document was given (``location``, a meta refresh, a form, a link) is stopped
        quietly: ``aborted`` commits no error page, so the evidence stays the page, not
        Chromium's error page under the refused URL."""
        return "aborted" if main and self.loaded else code

    def _main_frame(self, route: Route) -> bool:
        """Whether a navigation request is the captured page's main frame's (a pop-up's,
        made before its frame exists, is not: Playwright raises for its frame)."""
        from playwright.async_api import Error as PwError

        try:
            frame = route.request.frame
        except PwError:
            return False
        return self.page is not None and frame is self.page.main_frame

    def _refusal(self, url: str, resource_type: str) -> str | None:
        if not url.startswith(("http://", "https://")):
            return "not http(s)"
        if resource_type in _REFUSED_KINDS:
            return _REFUSED_KINDS[resource_type]
        if self.stats.requests + self.stats.refused >= MAX_REQUESTS:
            return f"more than {MAX_REQUESTS} requests"
        if self.stats.bytes >= self._total:
            return f"the page's {self._total} bytes are spent"
        return None

    async def _fetch(self, method: str, url: str, headers: dict[str, str], content: bytes,
                     *, main: bool) -> _Fetched | None:
        """Send the browser's request hop by hop, recording each; ``None`` when the main
        frame's navigation was redirected (``redirect_to`` says where)."""
        sent = {k: v for k, v in headers.items()
                if k.lower() not in _NOT_FORWARDED and not k.startswith(":")}
        sent["accept-encoding"] = "identity"  # the browser is given decoded bodies
        try:
            request = self._client.build_request(method, url, headers=sent, content=content)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise _Refused(f"invalid URL: {exc}", "failed") from exc
        for hop in range(self._client.max_redirects + 1):
            response, body, ip_address = await self._hop(request, content if hop == 0 else b"",
                                                         main=main)
            try:
                next_request = response.next_request
                if next_request is None:
                    if main and hop == 0:
                        self._note_main(response, ip_address)
                    return self._fulfilment(response, body)
                if main:
                    self.redirect_to = without_userinfo(str(next_request.url))
                    return None
                request = next_request
            finally:
                body.file.close()
        raise _Refused(f"too many redirects (more than {self._client.max_redirects})", "failed")

    async def _hop(self, request: httpx.Request, content: bytes,
                   *, main: bool) -> tuple[httpx.Response, Body, str | None]:
        date = self._recorder.now()
        try:
            async with asyncio.timeout_at(self._deadline_at):
                response = await self._client.send(request, stream=True, follow_redirects=False)
        except AddressRefused as exc:
            raise _Refused(f"address refused: {exc}", "addressunreachable") from exc
        except TimeoutError as exc:
            raise _Refused("timed out", "timedout") from exc
        except httpx.HTTPError as exc:
            raise _Refused(f"{type(exc).__name__}: {exc}"[:300], "failed") from exc
        if main and (kind := _not_a_page(response)):  # a direct media link: nothing to render
            await response.aclose()
            self.not_a_page = kind
            raise _Refused(f"not a page: {kind} (the media part keeps it)", "aborted")
        http = self._recorder.response_headers(response)
        ip_address = server_ip(response)  # known only while the connection is open
        body = Body(file=tempfile.TemporaryFile(dir=self._tmp_dir),  # noqa: SIM115 (closed by _fetch)
                    block=hashlib.sha256(http.headers_buff), payload=hashlib.sha256())
        try:
            try:
                cap = min(self._each, max(self._total - self.stats.bytes, 0))
                await read_body(response, body, cap, self._deadline_at)
            finally:
                await response.aclose()
            self.stats.bytes += body.size
            self._recorder.write_hop(request, response, date, http, body,
                                     ip_address=ip_address, request_body=content)
        except BaseException:  # a timeout, a cancellation, a full disk: the spool goes too
            body.file.close()
            raise
        if body.truncated:
            body.file.close()
            raise _Refused(f"response cut ({body.truncated}): {body.problem or 'size cap'}"[:300],
                           "failed")
        return response, body, ip_address

    def _note_main(self, response: httpx.Response, ip_address: str | None) -> None:
        self.main_response = {
            "url": without_userinfo(str(response.url)), "http_status": response.status_code,
            "ip_address": ip_address or "",
        }

    def _fulfilment(self, response: httpx.Response, body: Body) -> _Fetched:
        body.file.seek(0)
        data = body.file.read()
        coding = response.headers.get("content-encoding", "identity").strip().lower()
        if coding not in ("", "identity"):
            data = _decoded(data, coding, self._each)
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in _NOT_FULFILLED]
        return _Fetched(status=response.status_code, headers=headers, body=data)


_NOT_PAGES = ("video/", "audio/", "application/octet-stream", "application/pdf",
              "application/zip", "application/x-mpegurl", "application/vnd.apple.mpegurl",
              "application/dash+xml")


def is_not_a_page(media_type: str) -> bool:
    """A main document of this media type (lower case, no parameters) is media, not a
    page: the browser would only fetch again what the media part and the page snapshot
    keep."""
    return media_type.startswith(_NOT_PAGES)


def _not_a_page(response: httpx.Response) -> str:
    """The media type of a main-document response that is media, not a page ("" else)."""
    if response.next_request is not None:
        return ""
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind if is_not_a_page(kind) else ""


class _Refused(Exception):
    def __init__(self, reason: str, error_code: str) -> None:
        super().__init__(reason)
        self.error_code = error_code


def _decoded(data: bytes, coding: str, cap: int) -> bytes:
    """A body the server content-coded though asked not to, decoded, at most ``cap`` bytes."""
    if coding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(wbits=47 if coding != "deflate" else zlib.MAX_WBITS)
        try:
            out = inflater.decompress(data, cap + 1)
        except zlib.error as exc:
            raise _Refused(f"undecodable {coding} body: {exc}", "failed") from exc
    elif coding == "br":
        try:
            import brotli  # yt-dlp[default] brings it
        except ImportError as exc:
            raise _Refused("brotli-coded body and no brotli decoder", "failed") from exc
        decoder = brotli.Decompressor()
        try:
            out = decoder.process(data, output_buffer_limit=cap + 1)
        except (brotli.error, TypeError) as exc:
            raise _Refused(f"undecodable br body: {exc}", "failed") from exc
    else:
        raise _Refused(f"unsupported content coding {coding!r}", "failed")
    if len(out) > cap:
        raise _Refused(f"decoded body over {cap} bytes", "failed")
    return bytes(out)


async def _abort(route: Route, error_code: str) -> None:
    try:
        await route.abort(error_code)
    except Exception:  # noqa: BLE001 (the page or browser is gone: nothing to abort)
        return
