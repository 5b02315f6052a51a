"""A server nobody may reach: the hostile browser tests count what arrives at it.

``Forbidden`` listens on one port on each loopback address a page can name other than the
fixture site's: 127.0.0.1, 127.0.0.2 and ::1 (``0.0.0.0`` and ``localhost`` land on
these), over TCP and UDP. TCP connections are counted and the first line of each is kept
(the target of an HTTP request line or a proxy's ``CONNECT``; else ``tls``, ``stun``,
``binary``, or ``silent`` for a connection closed unused); each is
answered ``204 No Content``, so a plain browser that navigates there stays on its page and
goes on attacking. UDP datagrams (STUN, TURN, ICE checks, QUIC) are counted.

The tests serve their pages from 127.0.0.3 and allow only ``127.0.0.3/32``, so every
address ``Forbidden`` listens on is one the address rules refuse.

    forbidden = Forbidden()
    forbidden.url("/a/x")  -> "http://127.0.0.2:PORT/a/x"
    forbidden.connections, forbidden.packets, forbidden.lines
"""

from __future__ import annotations

import socket
import threading

__all__ = ["Forbidden"]

HOSTS = ("127.0.0.2", "127.0.0.1", "::1")
_ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Forbidden:
    """TCP and UDP on one port of 127.0.0.1, 127.0.0.2 and ::1, counting what arrives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connections = 0
        self.packets = 0
        self.lines: list[str] = []
        self.tcp, self.udp = self._bind()
        self.port = int(self.tcp[0].getsockname()[1])
        for sock in self.tcp:
            threading.Thread(target=self._accept, args=(sock,), daemon=True).start()
        for sock in self.udp:
            threading.Thread(target=self._receive, args=(sock,), daemon=True).start()

    @staticmethod
    def _bind() -> tuple[list[socket.socket], list[socket.socket]]:
        """One port free for TCP and UDP on every address (a few tries: the first
        address picks it, another may hold it already)."""
        for _ in range(50):
            made: list[socket.socket] = []
            try:
                port = 0
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    for host in HOSTS:
                        family = socket.AF_INET6 if ":" in host else socket.AF_INET
                        sock = socket.socket(family, kind)
                        made.append(sock)
                        sock.bind((host, port))
                        port = sock.getsockname()[1]
            except OSError:
                for sock in made:
                    sock.close()
                continue
            tcp = [s for s in made if s.type == socket.SOCK_STREAM]
            for sock in tcp:
                sock.listen(64)
            return tcp, [s for s in made if s.type == socket.SOCK_DGRAM]
        raise OSError("no port free on every loopback address")

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(30)  # a preconnected socket may wait long for its request
                first = conn.recv(4096).split(b"\r\n", 1)[0]
            except OSError:
                first = b""
            words = first.split(b" ")
            http = len(words) == 3 and words[2].startswith(b"HTTP/")
            kind = ("tls" if first[:1] == b"\x16" else "stun" if first[:1] in (b"\0", b"\1")
                    else "binary" if first else "silent")
            with self._lock:
                self.lines.append(words[1].decode("latin-1") if http else kind)
            try:
                conn.sendall(_ANSWER)
            except OSError:
                return

    def _receive(self, sock: socket.socket) -> None:
        while True:
            try:
                _, sender = sock.recvfrom(65536)
            except OSError:
                return
            if sender is None:  # shut down
                return
            with self._lock:
                self.packets += 1

    def url(self, path: str, host: str = "127.0.0.2", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        for sock in (*self.tcp, *self.udp):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
