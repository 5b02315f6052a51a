"""How far this machine's clock is from an NTP server's: one SNTP query (RFC 4330).

A capture's times are this machine's clock, so the collection record says how far that
clock was from a reference at the start of the run (docs/design.md "Collection
record"). One 48-byte client packet goes to UDP port 123; the server's answer carries
when it received the request and when it sent the answer, and with our own send and
receive times they give the offset and the round trip (RFC 4330 section 5):

    offset = ((t1 - t0) + (t2 - t3)) / 2        delay = (t3 - t0) - (t2 - t1)

All arithmetic is on 64-bit NTP timestamps as integers (no floats: the result is
signed into manifests), and differences are taken modulo 2**64, so the query works
across the NTP era boundary of 2036 (RFC 4330 section 3).

The server is the operator's ``[collection] ntp_server``, not remote input, so it is
not held to ``[network]``'s address rules (a local NTP server is ordinary).

    >>> reading = await query_clock("pool.ntp.org", timeout=3.0)
    >>> reading.offset_ms, reading.delay_ms
    (-3, 18)
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from dataclasses import dataclass

NTP_PORT = 123
PACKET = 48  # bytes, without the optional authenticator (RFC 4330 section 4)
# Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
_UNIX_EPOCH = 2_208_988_800
_ERA = 1 << 64  # NTP timestamps: 32 bits of seconds, 32 of fraction
_MODE_CLIENT, _MODE_SERVER = 3, 4
_VERSION = 4


class SntpFailed(Exception):
    """No usable answer: the server's name did not resolve, nothing came back in time,
    or what came back is not a server's answer to our request. The message says which."""


@dataclass(frozen=True, kw_only=True)
class ClockReading:
    """The server's clock minus ours (``offset_ms``; positive: ours is behind) and the
    round trip (``delay_ms``, which bounds the offset's error), in whole milliseconds."""

    server: str  # as configured ("pool.ntp.org", "127.0.0.1:1123")
    address: str  # the address asked
    offset_ms: int
    delay_ms: int
    stratum: int


def split_server(server: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> (host, port); a bare IPv6
    address is a host. ``SntpFailed`` for an empty host or a bad port."""
    host, port = server.strip(), str(NTP_PORT)
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise SntpFailed(f"{server!r} is not host, host:port or [address]:port")
            port = rest[1:]
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SntpFailed(f"{server!r} is not host, host:port or [address]:port")
    return host, int(port)


def _ntp_now() -> int:
    """This machine's clock now as a 64-bit NTP timestamp (modulo the era)."""
    ns = time.time_ns() + _UNIX_EPOCH * 1_000_000_000
    return ((ns << 32) // 1_000_000_000) % _ERA


def _signed(difference: int) -> int:
    """A difference of two NTP timestamps, modulo 2**64, as a signed number."""
    difference %= _ERA
    return difference - _ERA if difference >= _ERA >> 1 else difference


def _ms(fixed: int) -> int:
    """A signed 32.32 fixed-point number of seconds, in whole milliseconds (rounded)."""
    return (fixed * 1000 + (1 << 31)) >> 32


def request(t0: int) -> bytes:
    """The client packet: LI 0, version 4, mode 3, our send time as the transmit
    timestamp (the server copies it into the answer's originate timestamp)."""
    return bytes([(_VERSION << 3) | _MODE_CLIENT]) + bytes(39) + t0.to_bytes(8, "big")


def reading_from(answer: bytes, *, t0: int, t3: int, server: str, address: str) -> ClockReading:
    """Check a server's answer to the request sent at ``t0``, received at ``t3``
    (RFC 4330 section 5, the client's sanity checks), and compute the offset."""
    if len(answer) < PACKET:
        raise SntpFailed(f"the answer is {len(answer)} bytes, not an SNTP packet ({PACKET})")
    first, stratum = answer[0], answer[1]
    leap, version, mode = first >> 6, (first >> 3) & 7, first & 7
    if mode != _MODE_SERVER:
        raise SntpFailed(f"the answer's mode is {mode}, not a server's ({_MODE_SERVER})")
    if not 1 <= version <= _VERSION:
        raise SntpFailed(f"the answer's version is {version}, not 1 to {_VERSION}")
    if stratum == 0:  # a kiss-o'-death packet: the code is in the reference id
        code = answer[12:16].decode("ascii", "replace").strip("\0")
        raise SntpFailed(f"the server refused (kiss-o'-death {code!r})")
    if leap == 3 or stratum > 15:
        raise SntpFailed("the server's clock is not synchronized")
    originate, t1, t2 = struct.unpack("!QQQ", answer[24:48])
    if originate != t0:
        raise SntpFailed("the answer is not to our request (its originate timestamp differs)")
    if t2 == 0:
        raise SntpFailed("the answer has no transmit timestamp")
    offset = (_signed(t1 - t0) + _signed(t2 - t3)) // 2
    delay = _signed(t3 - t0) - _signed(t2 - t1)
    return ClockReading(server=server, address=address, offset_ms=_ms(offset),
                        delay_ms=max(0, _ms(delay)), stratum=stratum)


class _Answer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.future: asyncio.Future[tuple[bytes, int]] = \
            asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if not self.future.done():  # t3: as soon as it arrives
            self.future.set_result((data[:PACKET * 4], _ntp_now()))

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable, …
        if not self.future.done():
            self.future.set_exception(exc)


async def query_clock(server: str, *, timeout: float = 3.0) -> ClockReading:
    """One SNTP exchange with ``server`` (host[:port]); ``SntpFailed`` within
    ``timeout`` seconds (name lookup included) when there is no usable answer."""
    host, port = split_server(server)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            except (OSError, UnicodeError) as exc:
                raise SntpFailed(f"{host}: cannot resolve: {exc}") from exc
            family, _, _, _, sockaddr = infos[0]
            address = str(sockaddr[0])
            transport, protocol = await loop.create_datagram_endpoint(
                _Answer, remote_addr=(address, port), family=family)
            try:
                # Our transmit timestamp is sent as is; its low bits carry random noise
                # (below a microsecond) so an off-path guess of it is unlikely.
                t0 = (_ntp_now() & ~0xFFF) | int.from_bytes(os.urandom(2), "big") & 0xFFF
                transport.sendto(request(t0))
                answer, t3 = await protocol.future
            finally:
                transport.close()
    except TimeoutError as exc:
        raise SntpFailed(f"no answer from {server} within {timeout:g} s") from exc
    except OSError as exc:
        raise SntpFailed(f"{server}: {exc.strerror or exc}") from exc
    return reading_from(answer, t0=t0, t3=t3, server=server, address=address)
