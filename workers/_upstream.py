"""A tunnel through the operator's proxy to an address the guard has already checked.

docs/design.md "Network and safety", "Proxies": the guard (``workers.net._GuardedBackend``)
resolves the target and checks every address first; only then is a tunnel opened here,
to the checked IP and never to the name, so the proxy cannot be steered to another
address by a second lookup (DNS rebinding) and never resolves anything itself.

- ``http://`` and ``https://`` proxies: ``CONNECT ip:port`` (RFC 9110 section 9.3.6),
  with ``Proxy-Authorization: Basic`` (RFC 7617) when the URL has credentials; an
  ``https://`` proxy is reached over TLS first (TLS to the target then runs inside).
- ``socks5://`` and ``socks5h://``: SOCKS5 CONNECT to the IP (RFC 1928), with
  username/password authentication (RFC 1929) when the URL has credentials. The guard
  must know the address, so a ``socks5h`` proxy is given the checked IP as well.

The proxy itself may be on loopback or a private address (a local Tor or SOCKS
daemon): it is not checked, because the operator named it. Failures are
``httpcore.ProxyError`` (or ``ConnectTimeout``) naming the proxy by ``Upstream.shown``,
its URL with the credentials replaced by ``***``: a password is never in a message.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
import struct
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import httpcore

from workers.userinfo import redact_userinfo

__all__ = ["Upstream", "tunnel"]

_SCHEMES = ("http", "https", "socks5", "socks5h")
_MAX_HEAD = 16 * 1024  # a CONNECT answer's status line and headers
# The whole handshake (TLS to an https proxy, then CONNECT or SOCKS5) may take this many
# read timeouts: a proxy that trickles a byte just under each timeout is cut off.
HANDSHAKE_READS = 3
# RFC 1928 section 6: the REP field of a SOCKS5 reply
_SOCKS_REPLIES = {
    1: "general failure", 2: "connection not allowed by ruleset", 3: "network unreachable",
    4: "host unreachable", 5: "connection refused", 6: "TTL expired",
    7: "command not supported", 8: "address type not supported",
}


@dataclass(frozen=True, kw_only=True)
class Upstream:
    """The operator's proxy, parsed once; ``repr`` and ``shown`` hold no credentials."""

    scheme: str
    host: str
    port: int
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    shown: str  # the URL as it may be shown: http://***@proxy.example:3128

    @classmethod
    def parse(cls, url: str) -> Upstream:
        """Read a proxy URL (``preserver.config_access`` has checked its form already);
        ``ValueError`` naming the redacted URL for anything else."""
        shown = redact_userinfo(url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"not a proxy URL: {shown}") from exc
        scheme = parts.scheme.lower()
        if (scheme not in _SCHEMES or not parts.hostname or port is None
                or parts.path not in ("", "/") or parts.query or parts.fragment):
            raise ValueError(f"not a proxy URL (scheme://[user:password@]host:port): {shown}")
        return cls(scheme=scheme, host=parts.hostname, port=port,
                   username=unquote(parts.username or ""), password=unquote(parts.password or ""),
                   shown=shown)

    @property
    def socks(self) -> bool:
        return self.scheme.startswith("socks")


def _authority(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


async def _read_head(stream: httpcore.AsyncNetworkStream, timeout: float | None,
                     up: Upstream) -> tuple[bytes, bytes]:
    """The proxy's answer to CONNECT, up to the blank line, and what came after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.read(4096, timeout=timeout)
        if not chunk:
            raise httpcore.ProxyError(f"proxy {up.shown} closed the connection during CONNECT")
        data += chunk
        if len(data) > _MAX_HEAD:
            raise httpcore.ProxyError(f"proxy {up.shown} sent an overlong answer to CONNECT")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


async def _http_connect(stream: httpcore.AsyncNetworkStream, up: Upstream, ip: str, port: int,
                        timeout: float | None) -> None:
    where = _authority(ip, port)
    lines = [f"CONNECT {where} HTTP/1.1", f"Host: {where}"]
    if up.username or up.password:
        token = base64.b64encode(f"{up.username}:{up.password}".encode()).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {token}")
    await stream.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), timeout=timeout)
    head, rest = await _read_head(stream, timeout, up)
    status_line = head.split(b"\r\n", 1)[0]
    parts = status_line.decode("latin-1").split(" ", 2)
    code = parts[1] if len(parts) > 1 else ""
    if not (parts[0].startswith("HTTP/") and code.isdigit()):
        raise httpcore.ProxyError(f"proxy {up.shown} did not answer CONNECT in HTTP")
    if code == "407":
        raise httpcore.ProxyError(f"proxy {up.shown} refused the credentials (HTTP 407)")
    if not code.startswith("2"):
        reason = "".join(c for c in (parts[2] if len(parts) > 2 else "")[:80] if c.isprintable())
        raise httpcore.ProxyError(
            f"proxy {up.shown} refused the tunnel to {where}: HTTP {code} {reason}".rstrip())
    if rest:  # the target speaks only after us (TLS, HTTP): bytes here are not ours to pass on
        raise httpcore.ProxyError(f"proxy {up.shown} sent data before the tunnel was used")


async def _read_exactly(stream: httpcore.AsyncNetworkStream, n: int, timeout: float | None,
                        up: Upstream) -> bytes:
    data = b""
    while len(data) < n:
        chunk = await stream.read(n - len(data), timeout=timeout)
        if not chunk:
            raise httpcore.ProxyError(f"proxy {up.shown} closed the connection during the "
                                      "SOCKS5 handshake")
        data += chunk
    return data


async def _socks5_connect(stream: httpcore.AsyncNetworkStream, up: Upstream, ip: str, port: int,
                          timeout: float | None) -> None:
    # RFC 1928 section 3: version 5, the methods offered (0: none, 2: username/password)
    login = bool(up.username or up.password)
    await stream.write(b"\x05\x01\x02" if login else b"\x05\x01\x00", timeout=timeout)
    version, method = await _read_exactly(stream, 2, timeout, up)
    if version != 5:
        raise httpcore.ProxyError(f"proxy {up.shown} is not a SOCKS5 proxy")
    if method == 0xFF or method != (2 if login else 0):
        raise httpcore.ProxyError(f"proxy {up.shown} accepts none of the offered SOCKS5 "
                                  f"authentication methods ({'username/password' if login else 'none'})")
    if login:  # RFC 1929 section 2: version 1, ULEN, UNAME, PLEN, PASSWD
        user, password = up.username.encode(), up.password.encode()
        if len(user) > 255 or len(password) > 255:
            raise httpcore.ProxyError(f"proxy {up.shown}: SOCKS5 credentials longer than 255 bytes")
        await stream.write(bytes([1, len(user)]) + user + bytes([len(password)]) + password,
                           timeout=timeout)
        if (await _read_exactly(stream, 2, timeout, up))[1] != 0:
            raise httpcore.ProxyError(f"proxy {up.shown} refused the credentials (SOCKS5)")
    # RFC 1928 section 4: CONNECT to an IPv4 (ATYP 1) or IPv6 (ATYP 4) address
    addr = ipaddress.ip_address(ip)
    atyp = b"\x01" if addr.version == 4 else b"\x04"
    await stream.write(b"\x05\x01\x00" + atyp + addr.packed + struct.pack("!H", port),
                       timeout=timeout)
    version, rep, _rsv, bound = await _read_exactly(stream, 4, timeout, up)
    if version != 5:
        raise httpcore.ProxyError(f"proxy {up.shown} sent a malformed SOCKS5 reply")
    if rep != 0:
        why = _SOCKS_REPLIES.get(rep, f"reply {rep}")
        raise httpcore.ProxyError(f"proxy {up.shown} could not reach {_authority(ip, port)}: {why}")
    # RFC 1928 section 6: BND.ADDR (by its type) and BND.PORT follow; read and drop them
    if bound == 3:
        size = (await _read_exactly(stream, 1, timeout, up))[0]
    else:
        size = {1: 4, 4: 16}.get(bound, -1)
        if size < 0:
            raise httpcore.ProxyError(f"proxy {up.shown} sent a malformed SOCKS5 reply")
    await _read_exactly(stream, size + 2, timeout, up)


class _Tunnel(httpcore.AsyncNetworkStream):
    """A stream through the proxy that names the target as its server address.

    What the page snapshot records as the server's address (``WARC-IP-Address``, the
    collection record) is the checked IP the proxy was told to connect to, never the
    proxy's own address. TLS started on it stays a ``_Tunnel``."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, server_addr: tuple[str, int]) -> None:
        self._inner, self._server_addr = inner, server_addr

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout=timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout=timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.start_tls(ssl_context, server_hostname=server_hostname,
                                            timeout=timeout)
        return _Tunnel(inner, self._server_addr)

    def get_extra_info(self, info: str) -> object:
        if info == "server_addr":
            return self._server_addr
        return self._inner.get_extra_info(info)


async def tunnel(up: Upstream, ip: str, port: int, *, backend: httpcore.AsyncNetworkBackend,
                 timeout: float | None, proxy_tls: ssl.SSLContext) -> httpcore.AsyncNetworkStream:
    """A byte stream to ``ip:port`` (already checked) through the proxy ``up``.

    ``proxy_tls`` checks an ``https://`` proxy's certificate. Raises
    ``httpcore.ProxyError`` or ``httpcore.ConnectTimeout``, naming the proxy redacted.
    """
    try:
        stream = await backend.connect_tcp(up.host, up.port, timeout=timeout)
    except httpcore.ConnectTimeout as exc:
        raise httpcore.ConnectTimeout(f"proxy {up.shown}: connecting timed out") from exc
    except (httpcore.ConnectError, OSError) as exc:
        raise httpcore.ProxyError(f"proxy {up.shown}: cannot connect: {_reason(exc)}") from exc
    try:  # each read is bounded by ``timeout``, and the whole handshake by HANDSHAKE_READS
        async with asyncio.timeout(None if timeout is None else HANDSHAKE_READS * timeout):
            if up.scheme == "https":
                stream = await stream.start_tls(proxy_tls, server_hostname=up.host,
                                                timeout=timeout)
            if up.socks:
                await _socks5_connect(stream, up, ip, port, timeout)
            else:
                await _http_connect(stream, up, ip, port, timeout)
    except BaseException as exc:
        await stream.aclose()
        if isinstance(exc, httpcore.TimeoutException | TimeoutError):
            raise httpcore.ConnectTimeout(f"proxy {up.shown}: handshake timed out") from exc
        if isinstance(exc, httpcore.ConnectError | httpcore.ReadError | httpcore.WriteError):
            raise httpcore.ProxyError(f"proxy {up.shown}: handshake failed: {_reason(exc)}") from exc
        raise
    return _Tunnel(stream, (ip, port))


def _reason(exc: BaseException) -> str:
    """An OS error's words without its errno prefix; never the URL (it is not in them)."""
    text = str(exc) or type(exc).__name__
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text
