"""The guard's network backend on asyncio's transports (workers/_streams.py), over real
sockets on 127.0.0.1: reads and writes with their timeouts, a broken connection, a reader
too slow for its sender, TLS (and a handshake that never ends), and an idle connection
the server closed. Servers here are asyncio protocols in the test's own loop.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpcore
import httpx
import pytest

from tests.support.tls import Pki, make_pki
from workers._streams import _HIGH, AsyncioBackend
from workers.net import make_client

LOOPBACK = ("127.0.0.0/8",)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


_ACCEPTED: list[asyncio.Transport] = []  # the servers' side of each connection


class _Scripted(asyncio.Protocol):
    """Answers each connection with ``on_request(transport)`` once a request's head came."""

    def __init__(self, on_request: Callable[[asyncio.Transport], None]) -> None:
        self.on_request, self.buffer = on_request, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        _ACCEPTED.append(transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer:
            self.buffer = b""
            self.on_request(self.transport)


async def _serve(on_request: Callable[[asyncio.Transport], None]
                 ) -> tuple[asyncio.Server, str]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Scripted(on_request), "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def servers() -> AsyncIterator[list[asyncio.Server]]:
    started: list[asyncio.Server] = []
    yield started
    for server in started:
        server.close()
    for transport in _ACCEPTED:  # a server's close leaves its connections open
        if not transport.is_closing():
            transport.abort()
    _ACCEPTED.clear()
    await asyncio.sleep(0.05)  # the transports' closing callbacks run


async def test_a_server_that_stalls_mid_body_is_a_read_timeout(
        servers: list[asyncio.Server]) -> None:
    def half(transport: asyncio.Transport) -> None:
        transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")

    server, url = await _serve(half)
    servers.append(server)
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=0.3) as http, \
            http.stream("GET", url) as response:
        with pytest.raises(httpx.ReadTimeout):
            await response.aread()


async def test_a_connection_reset_mid_body_is_a_read_error(
        servers: list[asyncio.Server]) -> None:
    def reset(transport: asyncio.Transport) -> None:
        transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()  # RST

    server, url = await _serve(reset)
    servers.append(server)
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=5) as http:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await http.get(url)


async def test_a_body_that_ends_with_the_connection_is_read_whole(
        servers: list[asyncio.Server]) -> None:
    """No Content-Length: the body is what comes before the server's EOF."""
    def until_eof(transport: asyncio.Transport) -> None:
        transport.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 300_000)
        transport.close()

    server, url = await _serve(until_eof)
    servers.append(server)
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=5) as http:
        response = await http.get(url)
    assert response.content == b"x" * 300_000


async def test_a_slow_reader_holds_a_bounded_buffer_and_loses_nothing(
        servers: list[asyncio.Server]) -> None:
    """The server sends 16 MiB at once; nobody reads for a while: the transport stops
    reading past ``_HIGH`` bytes (the kernel's buffers hold the rest), then every byte
    arrives, in order."""
    payload = bytes(range(256)) * (16 * 4096)

    def flood(transport: asyncio.Transport) -> None:
        transport.write(payload)
        transport.close()

    stream = await _requested(servers, flood)
    await asyncio.sleep(0.5)
    held = stream._connection.size  # type: ignore[attr-defined]
    assert 0 < held <= _HIGH + (1 << 18), held
    got = bytearray()
    while chunk := await stream.read(65536, timeout=5):
        assert len(chunk) <= 65536
        got += chunk
    await stream.aclose()
    assert got == payload


async def _requested(servers: list[asyncio.Server], on_request: Callable[[asyncio.Transport], None]
                     ) -> httpcore.AsyncNetworkStream:
    """A connection, by the backend itself, to a server answering with ``on_request``; a
    request's head already sent."""
    server, url = await _serve(on_request)
    servers.append(server)
    port = int(url.rsplit(":", 1)[1])
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=5)
    return stream


async def _stuck_writing(servers: list[asyncio.Server]) -> httpcore.AsyncNetworkStream:
    """A connection to a server that never reads, written to until ``WriteTimeout``."""
    def never(transport: asyncio.Transport) -> None:
        transport.pause_reading()

    stream = await _requested(servers, never)
    with pytest.raises(httpcore.WriteTimeout):
        for _ in range(4096):  # far more than the kernel's buffers hold
            await stream.write(b"\0" * 65536, timeout=0.3)
    return stream


async def test_a_peer_that_never_reads_is_a_write_timeout(
        servers: list[asyncio.Server]) -> None:
    stream = await _stuck_writing(servers)
    await stream.aclose()


async def test_connecting_to_a_closed_port_is_a_connect_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(httpcore.ConnectError):
        await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)


async def test_a_tls_handshake_that_never_ends_is_a_connect_timeout(
        servers: list[asyncio.Server], pki: Pki) -> None:
    server, url = await _serve(lambda transport: None)  # accepts, never answers
    servers.append(server)
    port = int(url.rsplit(":", 1)[1])
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    with pytest.raises(httpcore.ConnectTimeout):
        await stream.start_tls(pki.client_context(), server_hostname="127.0.0.1", timeout=0.3)


async def test_a_plain_server_answering_a_tls_hello_is_a_connect_error(
        servers: list[asyncio.Server], pki: Pki) -> None:

    loop = asyncio.get_running_loop()

    class _Garbage(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            transport.close()

    server = await loop.create_server(_Garbage, "127.0.0.1", 0)
    servers.append(server)
    port = server.sockets[0].getsockname()[1]
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    with pytest.raises(httpcore.ConnectError):
        await stream.start_tls(pki.client_context(), server_hostname="127.0.0.1", timeout=5)


async def test_tls_gives_the_session_and_both_addresses(tmp_path: Path, pki: Pki) -> None:
    loop = asyncio.get_running_loop()

    class _Hello(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data.upper())

    server = await loop.create_server(_Hello, "127.0.0.1", 0, ssl=pki.server_context())
    try:
        port = server.sockets[0].getsockname()[1]
        plain = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        stream = await plain.start_tls(pki.client_context(), server_hostname="127.0.0.1",
                                       timeout=5)
        await stream.write(b"hello", timeout=5)
        assert await stream.read(100, timeout=5) == b"HELLO"
        assert stream.get_extra_info("ssl_object").version().startswith("TLS")
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("is_readable") is False
        assert stream.get_extra_info("nonsense") is None
        await stream.aclose()
    finally:
        server.close()


async def test_an_idle_connection_the_server_closed_is_not_reused(
        servers: list[asyncio.Server]) -> None:
    """The server answers, then closes its side while the connection waits in the pool:
    the connection reads as readable (at its end), so the pool drops it and the next
    request opens a new one instead of failing on the dead one."""
    accepted = 0

    def answer_then_close(transport: asyncio.Transport) -> None:
        transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        asyncio.get_running_loop().call_later(0.05, transport.close)

    loop = asyncio.get_running_loop()

    def counted() -> _Scripted:
        nonlocal accepted
        accepted += 1
        return _Scripted(answer_then_close)

    server = await loop.create_server(counted, "127.0.0.1", 0)
    servers.append(server)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=5) as http:
        assert (await http.get(url)).text == "ok"
        await asyncio.sleep(0.3)
        assert (await http.get(url)).text == "ok"
    assert accepted == 2


async def test_bytes_sent_before_the_tls_handshake_never_pass_for_decrypted_ones(
        servers: list[asyncio.Server], pki: Pki) -> None:
    """Bytes that arrived on the plain connection before TLS started (an on-path attacker's
    forged answer, or a proxy's) are not the server's: were they kept, they would be read
    as the first decrypted bytes, an answer no certificate vouches for. The handshake is
    refused instead (the TLS client speaks first, so no server sends anything before)."""

    async def forge_then_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged")
        try:
            await writer.start_tls(pki.server_context())
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal")
            await writer.drain()
            await reader.read(100)
        except (OSError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(forge_then_tls, "127.0.0.1", 0)
    servers.append(server)
    port = server.sockets[0].getsockname()[1]
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    async with asyncio.timeout(5):
        while not stream.get_extra_info("is_readable"):  # the forged answer has arrived
            await asyncio.sleep(0.01)
    with pytest.raises(httpcore.ConnectError, match="before the TLS handshake"):
        tls = await stream.start_tls(pki.client_context(), server_hostname="127.0.0.1",
                                     timeout=5)
        await tls.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        pytest.fail(f"read as decrypted: {await tls.read(100, timeout=5)!r}")
    with pytest.raises(httpcore.WriteError):  # and the connection is closed
        await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=5)


async def _until_closed(stream: httpcore.AsyncNetworkStream) -> None:
    """Wait (a hang guard, not a timing assertion) until the stream's socket is closed."""
    sock = stream.get_extra_info("socket")
    async with asyncio.timeout(10):
        while sock.fileno() != -1:
            await asyncio.sleep(0.01)


async def test_closing_a_connection_the_peer_does_not_read_frees_its_socket(
        servers: list[asyncio.Server]) -> None:
    """After a write timeout the transport still holds what the peer never read; closing
    must not wait for the peer to read it (it may never), or the socket and the buffer
    stay for ever."""
    stream = await _stuck_writing(servers)
    await stream.aclose()
    await _until_closed(stream)


async def test_closing_a_tls_connection_does_not_wait_for_the_peers_close_notify(
        pki: Pki) -> None:
    """A TLS peer that never answers our close_notify (it holds the connection open)
    does not keep the socket for asyncio's 30 s shutdown timeout: as with httpcore's
    anyio backend, closing does not wait for the TLS shutdown."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    done = threading.Event()

    def serve() -> None:  # a peer that handshakes, says hello, then never reads again
        conn, _ = listener.accept()
        with pki.server_context().wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"hello")
            done.wait(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        plain = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        stream = await plain.start_tls(pki.client_context(), server_hostname="127.0.0.1",
                                       timeout=5)
        assert await stream.read(100, timeout=5) == b"hello"
        await stream.aclose()
        await _until_closed(stream)
    finally:
        done.set()
        thread.join(5)
        listener.close()
