"""A forward proxy on 127.0.0.1 for offline tests, written here (no third-party proxy).

It speaks what operators' proxies speak: HTTP ``CONNECT host:port`` and absolute-form
requests (``GET http://host/path``), over TLS too (``tls``: an ``https://`` proxy), and SOCKS5 (RFC 1928) with or without
username/password (RFC 1929); the first byte of a connection says which. With
``username`` set every request must authenticate (``407`` / SOCKS5 method refused).

It counts what it is asked for: ``targets`` holds every ``host:port`` it was asked to
reach (the guard only ever gives it IPs), and ``hits(host)`` how many times.
It connects onwards from ``source`` (127.0.0.2 by default), so a fixture site on
127.0.0.1 can tell a proxied request from a direct one by its client address, as a
platform tells a residential proxy's address from a server's.

    proxy = ForwardProxy.start(username="u", password="hunter2")
    proxy.url            -> "http://u:hunter2@127.0.0.1:PORT"
    proxy.socks_url      -> "socks5://u:hunter2@127.0.0.1:PORT"
    proxy.hits("127.0.0.1")
"""

from __future__ import annotations

import base64
import ipaddress
import select
import socket
import socketserver
import ssl
import struct
import threading
from collections import Counter
from urllib.parse import urlsplit

_DROPPED = ("proxy-authorization", "proxy-connection")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: ForwardProxy

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up are normal here


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until either side closes."""
    sockets = [a, b]
    while True:
        readable, _, broken = select.select(sockets, [], sockets, 30.0)
        if broken or not readable:
            return
        for s in readable:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            (b if s is a else a).sendall(data)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server
    request: socket.socket

    def handle(self) -> None:
        proxy = self.server.proxy
        proxy.connections += 1
        if proxy.tls is not None:  # an https:// proxy: TLS first, then HTTP inside
            self.request = proxy.tls.wrap_socket(self.request, server_side=True)
            with self.request:
                self._http()
            return
        first = self.request.recv(1, socket.MSG_PEEK)
        if first == b"\x05":
            self._socks()
        elif first:
            self._http()

    # -- the way onwards ----------------------------------------------------------------------
    def _onwards(self, host: str, port: int) -> socket.socket:
        proxy = self.server.proxy
        with proxy.lock:
            proxy.targets.append(f"{host}:{port}")
        return socket.create_connection((host, port), timeout=10.0,
                                        source_address=(proxy.source, 0))

    # -- HTTP ------------------------------------------------------------------------------
    def _http(self) -> None:
        proxy = self.server.proxy
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        line, *lines = head.decode("latin-1").split("\r\n")
        headers = [(k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in lines)]
        proxy.proxy_authorizations += [v for k, v in headers if k.lower() == "proxy-authorization"]
        if proxy.username is not None:
            expected = "Basic " + base64.b64encode(
                f"{proxy.username}:{proxy.password}".encode()).decode()
            if ("proxy-authorization", expected) not in [(k.lower(), v) for k, v in headers]:
                self.request.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                     b"Content-Length: 0\r\n\r\n")
                return
        method, target, _version = line.split(" ", 2)
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            try:
                onwards = self._onwards(host.strip("[]"), int(port))
            except OSError:
                self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            parts = urlsplit(target)
            onwards = self._onwards(parts.hostname or "", parts.port or 80)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            sent = [f"{method} {path} HTTP/1.1"] + [
                f"{k}: {v}" for k, v in headers if k.lower() not in _DROPPED]
            onwards.sendall(("\r\n".join(sent) + "\r\n\r\n").encode("latin-1") + rest)
        with onwards:
            _pipe(self.request, onwards)

    # -- SOCKS5 ----------------------------------------------------------------------------
    def _recv(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                raise ConnectionError("client hung up")
            data += chunk
        return data

    def _socks(self) -> None:
        proxy = self.server.proxy
        _version, count = self._recv(2)
        methods = self._recv(count)
        wanted = 2 if proxy.username is not None else 0
        if wanted not in methods:
            self.request.sendall(b"\x05\xff")
            return
        self.request.sendall(bytes([5, wanted]))
        if wanted == 2:
            _v, ulen = self._recv(2)
            user = self._recv(ulen).decode()
            plen = self._recv(1)[0]
            password = self._recv(plen).decode()
            ok = (user, password) == (proxy.username, proxy.password)
            self.request.sendall(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                return
        _v, _cmd, _rsv, atyp = self._recv(4)
        if atyp == 1:
            host = str(ipaddress.IPv4Address(self._recv(4)))
        elif atyp == 4:
            host = str(ipaddress.IPv6Address(self._recv(16)))
        else:
            host = self._recv(self._recv(1)[0]).decode()
        (port,) = struct.unpack("!H", self._recv(2))
        proxy.socks_address_types.append(atyp)
        try:
            onwards = self._onwards(host, port)
        except OSError:
            self.request.sendall(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
            return
        self.request.sendall(b"\x05\x00\x00\x01" + bytes(6))
        with onwards:
            _pipe(self.request, onwards)


class ForwardProxy:
    def __init__(self, server: _Server, *, username: str | None, password: str | None,
                 source: str, tls: ssl.SSLContext | None) -> None:
        self._server, self.tls = server, tls
        self.username, self.password, self.source = username, password, source
        self.lock = threading.Lock()
        self.targets: list[str] = []  # host:port, in the order asked
        self.connections = 0
        self.proxy_authorizations: list[str] = []  # every Proxy-Authorization header seen
        self.socks_address_types: list[int] = []  # ATYP of each SOCKS5 CONNECT (1, 3, 4)
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, *, username: str | None = None, password: str | None = None,
              source: str = "127.0.0.2", tls: ssl.SSLContext | None = None) -> ForwardProxy:
        """``tls``: serve as an ``https://`` proxy with this server context."""
        server = _Server(("127.0.0.1", 0), _Handler)
        proxy = cls(server, username=username, password=password, source=source, tls=tls)
        server.proxy = proxy
        return proxy

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def _url(self, scheme: str) -> str:
        auth = f"{self.username}:{self.password}@" if self.username is not None else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self._url("https" if self.tls is not None else "http")

    @property
    def socks_url(self) -> str:
        return self._url("socks5")

    def hits(self, host: str) -> int:
        """Requests to reach ``host`` (any port)."""
        return Counter(t.rpartition(":")[0].strip("[]") for t in self.targets)[host]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def dead_proxy_url() -> str:
    """A proxy URL with credentials on a port nobody listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://user:dead-proxy-pw@127.0.0.1:{port}"
