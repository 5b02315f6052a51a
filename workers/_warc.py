"""WARC/1.1 records of HTTP exchanges, built from httpx objects with warcio's writer.

One ``WarcRecorder`` per snapshot file: a ``warcinfo`` record first, then a
``request``/``response`` pair per hop. Digests are SHA-256 (``sha256:`` + base32),
computed by the caller while it streams the body (``Body``). Cookie and credential
header values are replaced by ``[removed]``, and the userinfo (``user:password@``)
of every URL in a record is removed (``workers.userinfo``); the warcinfo record
says so. A capture with a session (``[access.<group>] cookies_file``) sends the
session's cookies; a request record shows its ``Cookie`` header as
``[redacted: session LABEL]`` (``session_marker``), so the record says a session was
sent, and which, without its secret; the warcinfo record documents the alteration
(docs/design.md "Network and safety").
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import httpx
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from workers.userinfo import without_userinfo

_REMOVED = "[removed]"
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_SECRET_HEADERS = {"set-cookie", "set-cookie2", "cookie", "authorization", "proxy-authorization"}


def sha256_label(digest: Any) -> str:
    return "sha256:" + base64.b32encode(digest.digest()).decode("ascii")


def _software() -> str:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    warcio = version("warcio")
    return f"preserver/{version('preserver')} (httpx/{httpx.__version__}, warcio/{warcio})"


def clean_header(name: str, value: str) -> str:
    """A header's value as it may be kept: a cookie or credential is ``[removed]``, and
    a URL in any other (Location, Content-Location, Link, Refresh …) loses its userinfo."""
    return _REMOVED if name.lower() in _SECRET_HEADERS else without_userinfo(value)


def session_marker(label: str) -> str:
    """What a request record shows of the ``Cookie`` header a session sent: the label
    as one line of printable ASCII (a header value cannot hold more), at most 200."""
    return f"[redacted: session {_UNPRINTABLE.sub('?', label[:200])}]"


def _warc_headers(raw: list[tuple[bytes, bytes]], cookie: str = "") -> list[tuple[str, str]]:
    """Headers as recorded; ``cookie``, when given, stands for a ``Cookie`` header's value."""
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw]
    return [
        ("X-Archive-Orig-Transfer-Encoding", value) if name.lower() == "transfer-encoding"
        else (name, cookie) if cookie and name.lower() == "cookie"
        else (name, clean_header(name, value))
        for name, value in headers
    ]


@dataclass
class Body:
    file: BinaryIO
    block: Any  # hashlib sha256 over HTTP headers + body
    payload: Any  # over the body
    size: int = 0
    truncated: str = ""  # "", "length", "time" or "disconnect"
    problem: str = ""


class WarcRecorder:
    def __init__(
        self, out: BinaryIO, clock: Callable[[], datetime], record_id: Callable[[], str],
        *, session: str = "",
    ) -> None:
        """``session``: the label of the session (``Access.name``) the client sends, or ""."""
        self._cookie = session_marker(session) if session else ""
        self._writer = WARCWriter(out, gzip=True, warc_version="1.1")
        self._clock = clock
        self._record_id = record_id
        self._warcinfo_id = record_id()

    def now(self) -> str:
        moment = self._clock().astimezone(UTC).replace(tzinfo=None)
        return str(datetime_to_iso_date(moment, use_micros=True))

    def warcinfo(self, purpose: str = "Page snapshot for evidence preservation.") -> None:
        fields = {
            "software": _software(),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/"
            "specifications/warc-format/warc-1.1/",
            "robots": "ignore",
            "description": f"{purpose} Values of the "
            "Set-Cookie, Set-Cookie2, Cookie, Authorization and Proxy-Authorization headers "
            f"are replaced by {_REMOVED}, and user names and passwords in URLs "
            "(user:password@) are removed from record and HTTP headers (cookies and "
            "credentials are never stored). Bodies "
            "are stored with the transfer coding removed (content coding kept), so "
            "Transfer-Encoding is recorded as X-Archive-Orig-Transfer-Encoding. Bodies over "
            "the size cap, or cut by a timeout or a closed connection, are marked "
            "WARC-Truncated."
            + (" The requests carried the cookies of a session configured in [access]; "
               f"the value of their Cookie header is recorded as {self._cookie}, never the "
               "cookies themselves." if self._cookie else ""),
        }
        body = "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode("utf-8")
        record = self._writer.create_warc_record(
            "", "warcinfo", payload=io.BytesIO(body), length=len(body),
            warc_headers_dict={
                "WARC-Record-ID": self._warcinfo_id,
                "WARC-Date": self.now(),
                "WARC-Block-Digest": sha256_label(hashlib.sha256(body)),
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
        body: Body, *, ip_address: str | None, request_body: bytes = b"",
    ) -> None:
        """One hop's request and response records. ``ip_address`` (``WARC-IP-Address``)
        is read by the caller with ``server_ip`` while the connection is open: httpx
        forgets it once the response is closed."""
        common = {"WARC-Date": date, "WARC-Warcinfo-ID": self._warcinfo_id}
        addr = ip_address
        resp_headers = {
            **common,
            "WARC-Record-ID": self._record_id(),
            "WARC-Payload-Digest": sha256_label(body.payload),
            "WARC-Block-Digest": sha256_label(body.block),
            **({"WARC-IP-Address": addr} if addr else {}),
            **({"WARC-Truncated": body.truncated} if body.truncated else {}),
        }
        body.file.seek(0)
        target_uri = without_userinfo(str(request.url))
        resp = self._writer.create_warc_record(
            target_uri, "response", payload=body.file, length=body.size,
            warc_headers_dict=resp_headers, http_headers=http,
        )
        line = f"{request.method} {request.url.raw_path.decode('ascii')} {response.http_version}"
        req_http = StatusAndHeaders(line, _warc_headers(request.headers.raw, self._cookie))
        req_http.compute_headers_buffer()
        req = self._writer.create_warc_record(
            target_uri, "request", payload=io.BytesIO(request_body), length=len(request_body),
            warc_headers_dict={
                **common,
                "WARC-Record-ID": self._record_id(),
                "WARC-Payload-Digest": sha256_label(hashlib.sha256(request_body)),
                "WARC-Block-Digest": sha256_label(
                    hashlib.sha256(req_http.headers_buff + request_body)),
            },
            http_headers=req_http,
        )
        self._writer.write_request_response_pair(req, resp)


def server_ip(response: httpx.Response) -> str | None:
    """The address of the server that sent ``response`` (``WARC-IP-Address``), when known."""
    stream = response.extensions.get("network_stream")
    addr = stream.get_extra_info("server_addr") if stream is not None else None
    return str(addr[0]) if isinstance(addr, tuple) and addr else None
