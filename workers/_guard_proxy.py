"""The guard proxy: how yt-dlp, in its child process, reaches the operator's proxy.

docs/design.md "Network and safety", "Proxies". yt-dlp can only be given a proxy URL,
and a proxy resolves the names it is given: handing it the operator's proxy directly
would take the target's lookup out of the guard's hands. So the child runs this small
forward proxy on 127.0.0.1 (a random port, a random password) and gives yt-dlp its
URL. For every request it:

1. reads ``CONNECT host:port`` (https, any TLS: the tunnel carries it end to end) or
   an absolute-form ``GET http://host/...`` (plain http);
2. resolves the host and checks every address by the address rule, then opens a
   tunnel to the checked IP through the operator's proxy: both by
   ``workers.net._GuardedBackend``, the one implementation the httpx clients use too;
3. relays bytes both ways. A plain-http request is sent on in origin form with
   ``Connection: close`` and without the ``Proxy-*`` headers.

A refused address or a failing proxy ends that connection (``403``/``502`` to a
CONNECT, a closed socket to a plain-http request, so that no answer of ours passes for
the site's) and is remembered: ``Guard.refused`` and ``Guard.failed`` give the child
the one-line reason to report, naming the proxy only with its credentials hidden.

It runs its own event loop in a daemon thread of the child; ``start`` installs the
address guard (``_netguard``) of the child with the two exemptions this needs: yt-dlp's
connections to this proxy, and this proxy's to the operator's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore
import httpx

from workers import _netguard
from workers._upstream import Upstream
from workers.errors import AddressRefused
from workers.net import _GuardedBackend, _Policy, system_resolver

__all__ = ["Guard", "serve", "start"]

log = logging.getLogger(__name__)

_MAX_HEAD = 64 * 1024
_HEAD_TIMEOUT = 30.0
_CHUNK = 64 * 1024
_USER = "preserver"
_DROPPED = frozenset({"proxy-authorization", "proxy-connection", "connection", "keep-alive"})


@dataclass(kw_only=True)
class Guard:
    """A running guard proxy: ``url`` for yt-dlp's ``proxy`` option, and what went wrong."""

    url: str  # http://preserver:<random>@127.0.0.1:<port>: a local, throw-away secret
    refused: str | None = None  # the first refusal: "refused: 10.0.0.1 is not a public address"
    failed: str | None = None  # the last failure of the operator's proxy, redacted
    _server: asyncio.AbstractServer | None = field(default=None, repr=False)

    def problem(self) -> tuple[str, bool] | None:
        """(message, transient) to report for a failed run, or None: a refusal is final,
        a proxy failure worth a retry."""
        if self.refused:
            return self.refused, False
        if self.failed:
            return self.failed, True
        return None


class _Handler:
    def __init__(self, guard: Guard, backend: _GuardedBackend, token: str,
                 timeout: float) -> None:
        self.guard, self.backend, self.timeout = guard, backend, timeout
        self.auth = "Basic " + base64.b64encode(f"{_USER}:{token}".encode()).decode("ascii")

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError, httpcore.NetworkError, ValueError):
            log.debug("guard proxy: connection ended", exc_info=True)
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(_HEAD_TIMEOUT):
            head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = [tuple(h.split(":", 1)) for h in lines[1:] if ":" in h]
        if not any(k.strip().lower() == "proxy-authorization" and secrets.compare_digest(v.strip().encode(), self.auth.encode())
                   for k, v in headers):
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"preserver\"\r\n"
                         b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if method == "CONNECT":
            host, port = _host_port(target, None)
            stream = await self._open(host, port, writer, connect=True)
            if stream is None:
                return
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            stream = await self._open(parts.hostname, parts.port or 80, writer, connect=False)
            if stream is None:
                return
            path = parts.path or "/"
            sent = [f"{method} {path}{'?' + parts.query if parts.query else ''} HTTP/1.1"]
            sent += [f"{k}:{v}" for k, v in headers if k.strip().lower() not in _DROPPED]
            sent.append("Connection: close")
            await stream.write(("\r\n".join(sent) + "\r\n\r\n").encode("latin-1"))
        await _relay(reader, writer, stream, plain=method != "CONNECT")

    async def _open(self, host: str, port: int, writer: asyncio.StreamWriter, *,
                    connect: bool) -> httpcore.AsyncNetworkStream | None:
        """The checked tunnel, or None after answering (CONNECT) or hanging up (plain)."""
        try:
            return await self.backend.connect_tcp(host, port, timeout=self.timeout)
        except AddressRefused as exc:
            self.guard.refused = self.guard.refused or str(exc)
            if connect:
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        except (httpcore.ProxyError, httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
            self.guard.failed = str(exc)  # the proxy's failure names it redacted (_upstream)
            if connect:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        return None


def _host_port(authority: str, default: int | None) -> tuple[str, int]:
    host, sep, port = authority.rpartition(":")
    if not sep or not port.isdigit():
        if default is None:
            raise ValueError(f"no port in {authority!r}")
        host, port = authority, str(default)
    return host.strip("[]"), int(port)


async def _closing_head(stream: httpcore.AsyncNetworkStream) -> bytes:
    """A plain-http answer's head with ``Connection: close``: the connection ends with the
    answer, so the client must not send another request on it. Returns the head and
    whatever of the body came with it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.read(_CHUNK)
        if not chunk:
            return data
        data += chunk
        if len(data) > _MAX_HEAD:
            raise ValueError("overlong response head")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n")
             if line.split(b":", 1)[0].strip().lower() not in (b"connection", b"keep-alive")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + rest


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 stream: httpcore.AsyncNetworkStream, *, plain: bool) -> None:
    """Copy both ways until either side is done, then close both."""

    async def upstream() -> None:
        while chunk := await reader.read(_CHUNK):
            await stream.write(chunk)

    async def downstream() -> None:
        if plain:
            writer.write(await _closing_head(stream))
        while chunk := await stream.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()
        await writer.drain()

    tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await stream.aclose()


async def serve(guard: Guard, backend: _GuardedBackend, token: str, sock: socket.socket, *,
                timeout: float) -> asyncio.AbstractServer:
    """Serve the guard proxy on the listening ``sock`` in the running loop: each
    connection's tunnel is opened by ``backend``; ``token`` is the password in ``guard.url``."""
    guard._server = await asyncio.start_server(_Handler(guard, backend, token, timeout),
                                               sock=sock, limit=_MAX_HEAD)
    return guard._server


def start(*, proxy: str, allow_private: bool, allow_networks: tuple[str, ...],
          timeout: float, servers: tuple[tuple[str, int], ...] = ()) -> Guard:
    """Start the guard proxy in a daemon thread of this (child) process, and install the
    address guard with its two exemptions (and ``servers``: the PO-token servers, for
    their providers only, ``_netguard.asking_servers``).
    ``proxy`` is the operator's proxy URL."""
    upstream = Upstream.parse(proxy)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # no lookup: the guard is not installed yet, and needn't be
    sock.listen(64)
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(18)
    guard = Guard(url=f"http://{_USER}:{token}@127.0.0.1:{port}")
    _netguard.install(allow_private=allow_private, allow_networks=allow_networks,
                      exempt=(("127.0.0.1", port), (upstream.host, upstream.port)),
                      servers=servers)
    policy = _Policy(allow_private=allow_private, allow_networks=allow_networks,
                     resolver=system_resolver)
    backend = _GuardedBackend(policy, upstream, httpx.create_ssl_context(trust_env=False))
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve(guard, backend, token, sock, timeout=timeout))
        finally:
            ready.set()
        loop.run_forever()

    threading.Thread(target=run, name="preserver-guard-proxy", daemon=True).start()
    ready.wait()
    if guard._server is None:
        raise OSError("the guard proxy did not start")
    return guard

