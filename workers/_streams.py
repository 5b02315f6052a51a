"""An httpcore network backend on asyncio's own transports, for the guard to connect with.

httpcore's ``AnyIOBackend`` wraps every read and write of a connection in anyio's
cancel scopes and timeouts and asks anyio for a socket's attributes (a dict built anew on
each question) every time a pool looks at an idle connection; for an audit, whose
requests are small, that was about a sixth of its time (``bench/audit_rate.py``). Here a
connection is an ``asyncio.Protocol`` that keeps what arrives, and a read waits on one
future with one timer:

- ``read`` returns what has arrived (at most ``max_bytes``), waits for more within its
  timeout (``httpcore.ReadTimeout``), gives ``b""`` at the end of the stream and
  ``httpcore.ReadError`` when the connection broke; bytes that arrived before the break
  are read first.
- ``write`` hands the bytes to the transport and waits, within its timeout
  (``httpcore.WriteTimeout``), only while the transport asks the writer to pause;
  ``httpcore.WriteError`` once the connection is closed or broken.
- ``aclose`` aborts: the socket is closed at once, what the peer has not taken is dropped
  and TLS sends no close_notify (as with anyio), so a peer that never reads or never
  answers cannot hold a closed connection's socket.
- Reading is paused while more than ``_HIGH`` bytes wait to be read, so a slow reader
  (the guard proxy relaying a download) holds a bounded buffer, as with anyio.
- ``start_tls`` is ``loop.start_tls`` (TLS inside TLS, to a target through an https
  proxy, included); the same protocol goes on receiving, now the decrypted bytes. Bytes
  that came before the handshake (the TLS client speaks first: no server's) end the
  connection with ``httpcore.ConnectError``; kept, they would be read as decrypted.
- ``get_extra_info``: ``ssl_object``, ``client_addr``, ``server_addr``, ``socket`` and
  ``is_readable`` (an idle connection with bytes or the end waiting: the server closed it
  or broke the protocol, so the pool drops it), as httpcore asks.

Connecting to a target resolves nothing: the guard (``workers.net._GuardedBackend``)
passes the address it checked, and an IP literal is connected to as it is. The one name
ever given here is the operator's proxy's (``workers._upstream.tunnel``: named by the
operator, not checked), which ``loop.create_connection`` resolves, as anyio did.
"""

from __future__ import annotations

import asyncio
import ssl
import typing
from collections import deque
from collections.abc import Iterable

import httpcore

__all__ = ["AsyncioBackend"]

_HIGH = 1 << 20  # bytes waiting to be read before the transport stops reading
_LOW = _HIGH // 4  # ... and resumes


class _Connection(asyncio.Protocol):
    """What a transport delivers, kept until ``_Stream`` reads it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.offset = 0  # of the first chunk, handed out already
        self.size = 0  # bytes waiting to be read
        self.ended = False  # the peer's EOF, or the connection lost
        self.error: BaseException | None = None  # why it was lost, if it broke
        self.tls = False  # after start_tls: the transport is asyncio's TLS transport
        self._reading_paused = False
        self._writing_paused = False
        self._readable: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > _HIGH and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        _wake(self._readable)

    def eof_received(self) -> bool:
        self.ended = True
        _wake(self._readable)
        # plain TCP: keep the transport open for writing (a half-closed peer); a TLS
        # transport closes itself whatever is answered, and warns if asked otherwise
        return not self.tls

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        if exc is not None:
            self.error = exc
        _wake(self._readable)
        _wake(self._drained)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        _wake(self._drained)

    # -- for _Stream ----------------------------------------------------------------------
    def take(self, max_bytes: int) -> bytes:
        """At most ``max_bytes`` of what waits, from the first chunk: a chunk larger than
        that (asyncio reads up to 256 KiB at once) is handed out in pieces, each copied
        once, the rest kept where it is (``offset``)."""
        chunk, start = self.chunks[0], self.offset
        end = min(len(chunk), start + max_bytes)
        if end == len(chunk):
            self.chunks.popleft()
            self.offset = 0
        else:
            self.offset = end
        piece = chunk if start == 0 and end == len(chunk) else chunk[start:end]
        self.size -= len(piece)
        if self._reading_paused and self.size <= _LOW and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return piece

    async def readable(self, timeout: float | None) -> None:
        self._readable = asyncio.get_running_loop().create_future()
        try:
            await _within(self._readable, timeout)
        finally:
            self._readable = None

    async def drained(self, timeout: float | None) -> None:
        if not self._writing_paused:
            return
        self._drained = asyncio.get_running_loop().create_future()
        try:
            await _within(self._drained, timeout)
        finally:
            self._drained = None


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


async def _within(waiter: asyncio.Future[None], timeout: float | None) -> None:
    """Wait for ``waiter``; ``TimeoutError`` after ``timeout`` seconds (None: no limit)."""
    if timeout is None:
        await waiter
        return
    timer = asyncio.get_running_loop().call_later(timeout, _expire, waiter)
    try:
        await waiter
    finally:
        timer.cancel()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, connection: _Connection) -> None:
        self._transport, self._connection = transport, connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        c = self._connection
        if not c.chunks and not c.ended:
            try:
                await c.readable(timeout)
            except TimeoutError as exc:
                raise httpcore.ReadTimeout(f"no data within {timeout:g} s") from exc
        if c.chunks:
            return c.take(max_bytes)
        if c.error is not None:
            raise httpcore.ReadError(str(c.error) or type(c.error).__name__) from c.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        c = self._connection
        if self._transport.is_closing() or c.error is not None:
            raise httpcore.WriteError(_closed(c))
        self._transport.write(buffer)
        try:
            await c.drained(timeout)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(f"could not write within {timeout:g} s") from exc
        if c.error is not None:
            raise httpcore.WriteError(_closed(c)) from c.error

    async def aclose(self) -> None:
        # abort, not close: ``close`` waits for the peer to take what is still buffered
        # (one that never reads: for ever) and, on TLS, for its close_notify (asyncio's
        # 30 s shutdown timeout), the socket held all along; httpcore's anyio backend sent
        # no close_notify either, and dropped what was unsent
        self._transport.abort()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        c = self._connection
        if c.chunks or c.ended:
            # The TLS client speaks first: bytes already here (an on-path attacker's forged
            # answer, a proxy's leftovers) are no server's, and the protocol kept across
            # ``loop.start_tls`` would hand them out as the first decrypted ones.
            self._transport.abort()
            raise httpcore.ConnectError("the peer sent data before the TLS handshake"
                                        if c.chunks else _closed(c))
        c.tls = True
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, c, ssl_context, server_hostname=server_hostname,
                    ssl_handshake_timeout=timeout or None)
        except TimeoutError as exc:
            self._transport.abort()
            raise httpcore.ConnectTimeout(f"TLS handshake not done within {timeout:g} s") from exc
        except (OSError, ssl.SSLError) as exc:  # ssl.SSLError is an OSError; said for the reader
            self._transport.abort()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if transport is None:  # the connection was closed meanwhile
            raise httpcore.ConnectError(_closed(c))
        c.transport = transport
        return _Stream(transport, c)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return bool(self._connection.chunks) or self._connection.ended
        name = _EXTRA.get(info)
        return self._transport.get_extra_info(name) if name is not None else None


_EXTRA = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername",
          "socket": "socket"}


def _closed(connection: _Connection) -> str:
    error = connection.error
    return f"connection lost: {error}" if error is not None else "connection closed"


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """``httpcore.AnyIOBackend``'s work, on asyncio's transports (see the module)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, connection = await loop.create_connection(
                    _Connection, host, port,
                    local_addr=(local_address, 0) if local_address else None)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return _Stream(transport, connection)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
