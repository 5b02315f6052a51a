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
  cap is ``max_bytes``, or ``min(max_bytes, media_max_bytes)`` for video, audio
  and octet-stream bodies (the media worker keeps the media itself). A capped
  body gets ``WARC-Truncated: length``; one cut by the deadline or a read
  timeout ``time``; one cut by the server closing ``disconnect`` (WARC §5.13).
- Digests are ``sha256:`` + base32, as warcio writes them; ``WARC-Date`` and
  ``WARC-Record-ID`` come from the injected ``clock`` and ``record_id``.
- Bodies are stored as transferred (content coding kept) with the transfer
  coding removed by httpcore, so ``Transfer-Encoding`` is recorded as
  ``X-Archive-Orig-Transfer-Encoding``; cookie and credential header values
  become ``[removed]`` (DESIGN.md). The ``warcinfo`` record says both.
- Outcomes are statuses, never exceptions (``classify.http_status``). 403 is ``unknown``
  and transient: a login wall, a geo block and a bot check look the same.
  Network errors and timeouts are transient errors; a refused address, a
  non-HTTP URL or too many redirects are final errors.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.metadata
import io
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from workers.classify import http_status
from workers.errors import AddressRefused
from workers.types import Status

__all__ = ["MEDIA_MAX_BYTES", "PageOutcome", "snapshot_page"]

MEDIA_MAX_BYTES = 1 << 20
_REMOVED = "[removed]"
_SECRET_HEADERS = {"set-cookie", "set-cookie2", "cookie", "authorization", "proxy-authorization"}


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


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _sha256_label(digest: Any) -> str:
    return "sha256:" + base64.b32encode(digest.digest()).decode("ascii")


def _software() -> str:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    warcio = version("warcio")
    return f"preserver/{version('preserver')} (httpx/{httpx.__version__}, warcio/{warcio})"


def _warc_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw]
    return [
        (name, _REMOVED) if name.lower() in _SECRET_HEADERS
        else ("X-Archive-Orig-Transfer-Encoding", value) if name.lower() == "transfer-encoding"
        else (name, value)
        for name, value in headers
    ]


def _cap_for(content_type: str | None, max_bytes: int, media_max_bytes: int) -> int:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime.startswith(("video/", "audio/")) or mime == "application/octet-stream":
        return min(max_bytes, media_max_bytes)
    return max_bytes


class _Recorder:
    def __init__(
        self, out: BinaryIO, clock: Callable[[], datetime], record_id: Callable[[], str]
    ) -> None:
        self._writer = WARCWriter(out, gzip=True, warc_version="1.1")
        self._clock = clock
        self._record_id = record_id
        self._warcinfo_id = record_id()

    def now(self) -> str:
        moment = self._clock().astimezone(UTC).replace(tzinfo=None)
        return str(datetime_to_iso_date(moment, use_micros=True))

    def warcinfo(self) -> None:
        fields = {
            "software": _software(),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/"
            "specifications/warc-format/warc-1.1/",
            "robots": "ignore",
            "description": "Page snapshot for evidence preservation. Values of the "
            "Set-Cookie, Set-Cookie2, Cookie, Authorization and Proxy-Authorization headers "
            f"are replaced by {_REMOVED} (cookies and credentials are never stored). Bodies "
            "are stored with the transfer coding removed (content coding kept), so "
            "Transfer-Encoding is recorded as X-Archive-Orig-Transfer-Encoding. Bodies over "
            "the size cap, or cut by a timeout or a closed connection, are marked "
            "WARC-Truncated.",
        }
        body = "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode("utf-8")
        record = self._writer.create_warc_record(
            "", "warcinfo", payload=io.BytesIO(body), length=len(body),
            warc_headers_dict={
                "WARC-Record-ID": self._warcinfo_id,
                "WARC-Date": self.now(),
                "WARC-Block-Digest": _sha256_label(hashlib.sha256(body)),
            },
        )
        self._writer.write_record(record)

    def response_headers(self, response: httpx.Response) -> StatusAndHeaders:
        headers = StatusAndHeaders(
            f"{response.status_code} {response.reason_phrase}".rstrip(),
            _warc_headers(response.headers.raw),
            protocol=response.http_version,
        )
        headers.compute_headers_buffer()
        return headers

    def write_hop(
        self, request: httpx.Request, response: httpx.Response, date: str, http: StatusAndHeaders,
        body: _Body,
    ) -> None:
        common = {"WARC-Date": date, "WARC-Warcinfo-ID": self._warcinfo_id}
        addr = _server_ip(response)
        resp_headers = {
            **common,
            "WARC-Record-ID": self._record_id(),
            "WARC-Payload-Digest": _sha256_label(body.payload),
            "WARC-Block-Digest": _sha256_label(body.block),
            **({"WARC-IP-Address": addr} if addr else {}),
            **({"WARC-Truncated": body.truncated} if body.truncated else {}),
        }
        body.file.seek(0)
        resp = self._writer.create_warc_record(
            str(request.url), "response", payload=body.file, length=body.size,
            warc_headers_dict=resp_headers, http_headers=http,
        )
        line = f"{request.method} {request.url.raw_path.decode('ascii')} {response.http_version}"
        req_http = StatusAndHeaders(line, _warc_headers(request.headers.raw))
        req_http.compute_headers_buffer()
        req = self._writer.create_warc_record(
            str(request.url), "request", payload=io.BytesIO(b""), length=0,
            warc_headers_dict={
                **common,
                "WARC-Record-ID": self._record_id(),
                "WARC-Payload-Digest": _sha256_label(hashlib.sha256()),
                "WARC-Block-Digest": _sha256_label(hashlib.sha256(req_http.headers_buff)),
            },
            http_headers=req_http,
        )
        self._writer.write_request_response_pair(req, resp)


def _server_ip(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    addr = stream.get_extra_info("server_addr") if stream is not None else None
    return str(addr[0]) if isinstance(addr, tuple) and addr else None


@dataclass
class _Body:
    file: BinaryIO
    block: Any  # hashlib sha256 over HTTP headers + body
    payload: Any  # over the body
    size: int = 0
    truncated: str = ""  # "", "length", "time" or "disconnect"
    problem: str = ""


async def _read_body(
    response: httpx.Response, body: _Body, cap: int, deadline_at: float | None
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
) -> PageOutcome:
    """GET ``url`` hop by hop, writing WARC records to ``out``; never raises for network trouble.

    ``deadline`` (seconds) bounds the whole snapshot; each network operation is
    also bounded by the client's timeout. Redirects are followed up to
    ``client.max_redirects``, each hop sent through the client's transport.
    """
    recorder = _Recorder(out, clock, record_id)
    recorder.warcinfo()
    loop = asyncio.get_running_loop()
    deadline_at = None if deadline is None else loop.time() + deadline
    hops = 0
    last: dict[str, Any] = {"http_status": None, "final_url": None, "content_type": None}

    def outcome(
        status: Status, message: str, transient: bool, body: _Body | None = None
    ) -> PageOutcome:
        return PageOutcome(
            status=status, message=message, transient=transient, hops=hops,
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
        last = {"http_status": response.status_code, "final_url": str(response.url),
                "content_type": content_type}
        http = recorder.response_headers(response)
        with tempfile.TemporaryFile(dir=tmp_dir) as spool:
            body = _Body(file=spool, block=hashlib.sha256(http.headers_buff),
                         payload=hashlib.sha256())
            try:
                cap = _cap_for(content_type, max_bytes, media_max_bytes)
                await _read_body(response, body, cap, deadline_at)
            finally:
                await response.aclose()
            recorder.write_hop(request, response, date, http, body)
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
