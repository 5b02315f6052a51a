"""Page snapshot: one GET, and every redirect hop, recorded as WARC/1.1 (ISO 28500:2017).

The file written to ``out`` holds a ``warcinfo`` record, then for each hop a
``response`` record and its ``request`` record (WARC 1.1 §6.3-6.5), so the
redirect chain itself is evidence. Records are built from the httpx exchange
with warcio's ``RecordBuilder``/``WARCWriter`` (never ``warcio.capture_http``,
which patches ``http.client`` and misses httpx traffic).

    async with make_client(allow_private=False, timeout=20.0) as client:
        with open(work_dir / "page.warc.gz", "wb") as out:
            outcome = await snapshot_page(url, client=client, out=out, max_bytes=50_000_000)

Promises:

- Streaming: the body goes in chunks to a spool file (in ``tmp_dir``), both
  SHA-256 digests computed in the same pass; nothing past the cap is read. The
  cap is ``max_bytes``, or ``min(max_bytes, media_max_bytes)`` for video and audio
  bodies: by default 0, so the response of a direct media link is recorded with its
  headers and no body, the bytes are downloaded once, by the media worker, which
  keeps them (issue 12: the same bytes are not fetched twice). An
  ``application/octet-stream`` body says nothing of what it is (a video, an archive,
  a page a server mislabelled, which yt-dlp will not keep): its first
  ``OCTET_MAX_BYTES`` (1 MiB) are kept, as evidence whatever the media part finds. A capped
  body gets ``WARC-Truncated: length``; one cut by the deadline or a read
  timeout ``time``; one cut by the server closing ``disconnect`` (WARC §5.13).
- Digests are ``sha256:`` + base32, as warcio writes them; ``WARC-Date`` and
  ``WARC-Record-ID`` come from the injected ``clock`` and ``record_id``.
- Bodies are stored as transferred (content coding kept) with the transfer
  coding removed by httpcore, so ``Transfer-Encoding`` is recorded as
  ``X-Archive-Orig-Transfer-Encoding``; cookie and credential header values
  become ``[removed]`` (a session's ``Cookie``: ``[redacted: session LABEL]``),
  and no ``user:password@`` of a redirect's URL survives in a record
  (docs/design.md "Network and safety"). The ``warcinfo`` record says so.
- The outcome names the address of the server that sent the last response and,
  for https, its TLS session: version, cipher and certificate chain (``workers._tls``).
- The final 2xx HTML page is read for a login wall (``workers.walls.login_wall``:
  a redirect to a login page, Facebook's login page, a page that is a password
  form); ``wall`` names it. The status stays the response's: what the wall means
  is the capture's to decide.
- Outcomes are statuses, never exceptions (``classify.http_status``). 403 is ``unknown``
  and transient: a login wall, a geo block and a bot check look the same.
  Network errors and timeouts are transient errors; a refused address, a
  non-HTTP URL or too many redirects are final errors.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from workers._tls import TlsSession, tls_session
from workers._warc import Body, WarcRecorder, server_ip
from workers.classify import http_status
from workers.errors import AddressRefused
from workers.types import Status
from workers.userinfo import without_userinfo
from workers.walls import MAX_BYTES as WALL_BYTES
from workers.walls import inflate, login_wall

__all__ = ["MEDIA_MAX_BYTES", "OCTET_MAX_BYTES", "PageOutcome", "read_body", "snapshot_page"]

MEDIA_MAX_BYTES = 0  # the media part keeps the media: see the module docstring
OCTET_MAX_BYTES = 1 << 20  # untyped bytes: kept in part whatever the media part finds


@dataclass(frozen=True, kw_only=True)
class PageOutcome:
    """What a snapshot found. ``hops`` counts the response records written."""

    status: Status
    message: str  # "" when available
    transient: bool
    http_status: int | None  # of the last response received
    final_url: str | None
    content_type: str | None
    body_bytes: int  # of the last response's body, as stored
    truncated: bool
    hops: int = 0
    ip_address: str | None = None  # of the server that sent the last response
    tls: TlsSession | None = None  # the last response's TLS session; None for http
    # why the page is a login wall (``workers.walls``), or None; read only for a 2xx
    # HTML page whose coding we can read
    wall: str | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _head(spool: BinaryIO, content_type: str | None, coding: str | None) -> bytes | None:
    """The start of an HTML body as the server meant it, for ``login_wall``; None for
    anything else."""
    mime = (content_type or "text/html").split(";", 1)[0].strip().lower()
    if mime not in ("text/html", "application/xhtml+xml"):
        return None
    spool.seek(0)
    head = spool.read(WALL_BYTES)  # compressed bodies inflate up to WALL_BYTES
    spool.seek(0, 2)
    return inflate(head, coding)


def _cap_for(content_type: str | None, max_bytes: int, media_max_bytes: int) -> int:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime.startswith(("video/", "audio/")):
        return min(max_bytes, media_max_bytes)
    if mime == "application/octet-stream":
        return min(max_bytes, OCTET_MAX_BYTES)
    return max_bytes


async def read_body(
    response: httpx.Response, body: Body, cap: int, deadline_at: float | None
) -> None:
    chunks: AsyncIterator[bytes] = response.aiter_raw()
    try:
        while True:
            try:
                async with asyncio.timeout_at(deadline_at):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                body.truncated, body.problem = "time", "timed out reading the body: deadline"
                return
            except httpx.TimeoutException as exc:
                body.truncated, body.problem = "time", f"timed out reading the body: {exc!r}"
                return
            except httpx.TransportError as exc:
                body.truncated, body.problem = "disconnect", f"body incomplete: {exc}"
                return
            if body.size + len(chunk) > cap:
                chunk, body.truncated = chunk[: cap - body.size], "length"
            body.file.write(chunk)
            body.block.update(chunk)
            body.payload.update(chunk)
            body.size += len(chunk)
            if body.truncated:
                return
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


async def snapshot_page(
    url: str,
    *,
    client: httpx.AsyncClient,
    out: BinaryIO,
    max_bytes: int,
    media_max_bytes: int = MEDIA_MAX_BYTES,
    deadline: float | None = None,
    tmp_dir: Path | None = None,
    clock: Callable[[], datetime] = _utc_now,
    record_id: Callable[[], str] = _new_record_id,
    session: str = "",
    platform: str = "web",
    on_final: Callable[[str], None] | None = None,
) -> PageOutcome:
    """GET ``url`` hop by hop, writing WARC records to ``out``; never raises for network trouble.

    ``deadline`` (seconds) bounds the whole snapshot; each network operation is
    also bounded by the client's timeout. Redirects are followed up to
    ``client.max_redirects``, each hop sent through the client's transport.
    ``session``: the label of the session ``client`` sends (``Access.name``; "" for
    none), shown in place of the ``Cookie`` header's value (``workers._warc``).
    ``platform`` (``web``, ``facebook``, ``youtube``) selects the login-wall rules
    (``workers.walls``) the final page is read with. ``on_final`` is called with the
    final response's media type (lower case, no parameters) as soon as its headers
    arrive, before its body is read: the capture's browser part waits for it.
    """
    recorder = WarcRecorder(out, clock, record_id, session=session)
    recorder.warcinfo()
    loop = asyncio.get_running_loop()
    deadline_at = None if deadline is None else loop.time() + deadline
    hops = 0
    last: dict[str, Any] = {"http_status": None, "final_url": None, "content_type": None}

    head: bytes | None = None  # the start of the last body, when it is HTML

    def outcome(
        status: Status, message: str, transient: bool, body: Body | None = None
    ) -> PageOutcome:
        wall = None
        if status is Status.AVAILABLE and head is not None:
            wall = login_wall(head, url=url, final_url=last["final_url"], platform=platform)
        return PageOutcome(
            status=status, message=message, transient=transient, hops=hops, wall=wall,
            body_bytes=body.size if body else 0, truncated=bool(body and body.truncated), **last,
        )

    try:
        request = client.build_request("GET", url)
    except httpx.InvalidURL as exc:  # not an httpx.HTTPError
        return outcome(Status.ERROR, f"invalid URL: {exc}", False)
    while True:
        date = recorder.now()
        try:
            async with asyncio.timeout_at(deadline_at):
                response = await client.send(request, stream=True, follow_redirects=False)
        except AddressRefused as exc:
            host = request.url.host
            shown = str(exc) if exc.address == host else f"{exc} (the address of {host})"
            return outcome(Status.ERROR, shown, False)
        except TimeoutError:
            return outcome(Status.ERROR, f"timed out after {deadline:g} s", True)
        except httpx.UnsupportedProtocol as exc:
            return outcome(Status.ERROR, f"unsupported URL: {exc}", False)
        except httpx.TimeoutException as exc:
            return outcome(Status.ERROR, f"timed out: {exc!r}", True)
        except httpx.HTTPError as exc:  # connect, protocol and read errors; bad redirect URLs
            return outcome(Status.ERROR, f"{type(exc).__name__}: {exc}", True)
        hops += 1
        content_type = response.headers.get("content-type")
        last = {"http_status": response.status_code, "final_url": without_userinfo(str(response.url)),
                "content_type": content_type, "ip_address": server_ip(response),
                "tls": tls_session(response)}  # while the connection is open
        if on_final is not None and response.next_request is None:
            on_final((content_type or "").split(";", 1)[0].strip().lower())
        http = recorder.response_headers(response)
        with tempfile.TemporaryFile(dir=tmp_dir) as spool:
            body = Body(file=spool, block=hashlib.sha256(http.headers_buff),
                         payload=hashlib.sha256())
            try:
                cap = _cap_for(content_type, max_bytes, media_max_bytes)
                await read_body(response, body, cap, deadline_at)
                head = _head(spool, content_type, response.headers.get("content-encoding"))
            finally:
                await response.aclose()
            recorder.write_hop(request, response, date, http, body,
                               ip_address=last["ip_address"])
        next_request = response.next_request
        if next_request is None:
            break
        if hops > client.max_redirects:
            return outcome(Status.ERROR, f"too many redirects (more than {client.max_redirects})",
                           False, body)
        request = next_request
    status, transient = http_status(response.status_code)
    if body.truncated in ("time", "disconnect") and status is Status.AVAILABLE:
        return outcome(Status.ERROR, body.problem, True, body)
    message = "" if status is Status.AVAILABLE else (
        f"HTTP {response.status_code} {response.reason_phrase}".strip())
    return outcome(status, message, transient, body)
