"""The SNTP client (RFC 4330) against a local server on a real UDP socket
(tests/support/sntp.py: real NTP servers are on the internet), and its arithmetic on
packets built here."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

import pytest

from preserver.capture.sntp import SntpFailed, query_clock, reading_from, request, split_server
from tests.support.sntp import LocalSntp

Sntp = Callable[..., LocalSntp]


@pytest.mark.parametrize("offset", [5.0, -2.5, 0.0, 3600.0])
async def test_the_offset_of_a_server_clock(sntp: Sntp, offset: float) -> None:
    server = sntp(offset=offset)
    reading = await query_clock(server.address, timeout=3.0)
    assert abs(reading.offset_ms - offset * 1000) < 50, reading
    assert 0 <= reading.delay_ms < 200
    assert (reading.server, reading.address, reading.stratum) == (server.address, "127.0.0.1", 2)
    assert isinstance(reading.offset_ms, int) and isinstance(reading.delay_ms, int)
    [sent] = server.requests
    assert len(sent) == 48 and sent[0] == 0x23  # LI 0, version 4, mode 3 (client)


@pytest.mark.parametrize(("mode", "match"), [
    ("short", "the answer is 12 bytes, not an SNTP packet"),
    ("garbage", "the answer's version is 6, not 1 to 4"),
    ("wrong_mode", "the answer's mode is 3, not a server's"),
    ("kiss", "kiss-o'-death 'RATE'"),
    ("not_ours", "not to our request"),
    ("unsynced", "not synchronized"),
])
async def test_a_broken_answer_is_refused_with_its_reason(sntp: Sntp, mode: str,
                                                          match: str) -> None:
    server = sntp(mode=mode)
    with pytest.raises(SntpFailed, match=match):
        await query_clock(server.address, timeout=3.0)


async def test_no_answer_ends_at_the_timeout(sntp: Sntp) -> None:
    server = sntp(mode="silent")
    started = time.monotonic()
    with pytest.raises(SntpFailed, match=r"no answer from 127\.0\.0\.1:\d+ within 0\.5 s"):
        await query_clock(server.address, timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert len(server.requests) == 1


async def test_a_closed_port_or_unknown_name_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(SntpFailed, match="cannot resolve|no answer"):
        await query_clock("no-such-host.invalid", timeout=2.0)
    with pytest.raises(SntpFailed, match="refused|no answer"):  # ICMP port unreachable
        await query_clock("127.0.0.1:9", timeout=2.0)
    assert time.monotonic() - started < 4.5


@pytest.mark.parametrize(("server", "expected"), [
    ("pool.ntp.org", ("pool.ntp.org", 123)),
    ("127.0.0.1:1123", ("127.0.0.1", 1123)),
    ("[::1]:1123", ("::1", 1123)),
    ("[::1]", ("::1", 123)),
    ("::1", ("::1", 123)),
    (" time.example ", ("time.example", 123)),
])
def test_server_forms(server: str, expected: tuple[str, int]) -> None:
    assert split_server(server) == expected


@pytest.mark.parametrize("server", ["", "host:", "host:0", "host:65536", "host:x", "[::1]x",
                                    ":123", "[]:123"])
def test_bad_server_forms(server: str) -> None:
    with pytest.raises(SntpFailed, match="is not host, host:port"):
        split_server(server)


def _answer(t0: int, t1: int, t2: int) -> bytes:
    return bytes([0x24, 1, 6, 0xEC]) + bytes(8) + b"GPS\0" + struct.pack(
        "!QQQQ", t1, t0, t1, t2)


def test_the_arithmetic_across_the_ntp_era_boundary() -> None:
    """RFC 4330 section 3: 2036-02-07 wraps the seconds to 0; differences are modular."""
    second = 1 << 32
    t0 = 2**64 - second  # one second before the wrap, by our clock
    t1 = (t0 + 5 * second + second // 10) % 2**64  # server: 5 s ahead, 100 ms to get there
    t2 = (t1 + second // 1000) % 2**64  # 1 ms to answer
    t3 = (t0 + second // 5 + second // 1000) % 2**64  # back 201 ms later, by our clock
    reading = reading_from(_answer(t0, t1, t2), t0=t0, t3=t3, server="s", address="a")
    # offset = ((t1 - t0) + (t2 - t3)) / 2 = (5.1 + 4.9) / 2; delay = 0.201 - 0.001
    assert (reading.offset_ms, reading.delay_ms) == (5000, 200)


def test_the_request_carries_our_transmit_time() -> None:
    packet = request(0x0123456789ABCDEF)
    assert len(packet) == 48 and packet[0] == 0x23 and packet[40:] == bytes.fromhex(
        "0123456789abcdef")


def test_an_answer_without_transmit_time_is_refused() -> None:
    with pytest.raises(SntpFailed, match="no transmit timestamp"):
        reading_from(_answer(7, 9, 0), t0=7, t3=11, server="s", address="a")
