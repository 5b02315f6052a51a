"""A local SNTP server (RFC 4330) on 127.0.0.1, for the collection record's clock.

Real NTP servers are on the internet, which tests never reach. This one answers on a
real UDP socket with a clock ``offset`` seconds ahead of this machine's (negative:
behind), or, by ``mode``, breaks the protocol the way a hostile or broken server would:

    ok           a proper server answer
    short        12 bytes
    garbage      48 bytes of text
    wrong_mode   a packet in client mode (3), not server mode (4)
    kiss         a kiss-o'-death (stratum 0, "RATE")
    not_ours     an originate timestamp that is not our request's
    unsynced     leap indicator 3: the server's clock is not synchronized
    silent       no answer at all

    server = LocalSntp.start(offset=5.0)
    server.address  -> "127.0.0.1:40123"  (for [collection] ntp_server)
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field

_UNIX_EPOCH = 2_208_988_800
MODES = ("ok", "short", "garbage", "wrong_mode", "kiss", "not_ours", "unsynced", "silent")


def _ntp(seconds: float) -> int:
    return int((seconds + _UNIX_EPOCH) * 2**32) % 2**64


@dataclass
class LocalSntp:
    sock: socket.socket
    thread: threading.Thread
    offset: float = 0.0
    mode: str = "ok"
    requests: list[bytes] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, *, offset: float = 0.0, mode: str = "ok") -> LocalSntp:
        assert mode in MODES, mode
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.05)
        server = cls(sock=sock, thread=threading.Thread(), offset=offset, mode=mode)
        server.thread = threading.Thread(target=server._serve, name="local-sntp", daemon=True)
        server.thread.start()
        return server

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                data, peer = self.sock.recvfrom(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            self.requests.append(data)
            answer = self._answer(data, time.time() + self.offset)
            if answer is not None:
                self.sock.sendto(answer, peer)

    def _answer(self, request: bytes, now: float) -> bytes | None:
        if self.mode == "silent":
            return None
        if self.mode == "short":
            return b"\x24\x02\x00\x00" * 3
        if self.mode == "garbage":
            return b"this is not an NTP packet, it is text!!!!!!!!!!!"[:48]
        leap = 3 if self.mode == "unsynced" else 0
        mode = 3 if self.mode == "wrong_mode" else 4
        stratum = 0 if self.mode == "kiss" else 2
        reference = b"RATE" if self.mode == "kiss" else b"TEST"
        originate = request[40:48] if self.mode != "not_ours" else b"\x01" * 8
        received = _ntp(now)
        time.sleep(0.002)  # the server's own processing time
        return (bytes([(leap << 6) | (4 << 3) | mode, stratum, 6, 0xEC]) + bytes(8) + reference
                + struct.pack("!Q", received) + originate
                + struct.pack("!QQ", received, _ntp(time.time() + self.offset)))
