"""The one HTTP client factory of the workers, and the transport that refuses private addresses.

docs/design.md "Network and safety" (contract): every fetch and every redirect hop
refuses loopback, private, link-local and metadata addresses unless
``network.allow_private`` is set (or the address is in ``allow_networks``).
docs/style.md "Workers return results": the refusal lives in one wrapping httpx
transport, so every hop passes through it — httpx's ``_send_handling_redirects``
sends each hop through the client's transport.

    client = make_client(allow_private=False, allow_networks=(), timeout=20.0,
                         max_redirects=10, user_agent=None)
    async with client:
        await client.get("http://169.254.169.254/")   # raises AddressRefused

Where the check happens, and DNS rebinding
------------------------------------------
A naive guard resolves the hostname, checks the answer, and lets the HTTP
stack connect — which resolves *again*. An attacker's DNS server can answer
the first lookup with a public address and the second with 127.0.0.1 (DNS
rebinding). ``SafeTransport`` closes that window: its connection pools (one
per origin, ``workers._pools``) use ``_GuardedBackend``, which resolves the host
once (``loop.getaddrinfo``), checks every address, and opens the TCP connection
to the checked IP itself. TLS is still started by httpcore with the original
hostname as SNI and for certificate verification, and the pools are keyed by
hostname, so nothing else changes. A host is refused when *any* of its
addresses is not allowed (a public name that also publishes a private address
is suspicious).

A kept-alive connection is reused without a new lookup; it was checked when
it was opened, and it stays connected to the same checked IP.

Literal-IP URLs are checked in ``handle_async_request`` before anything is
sent, and non-HTTP schemes are refused there too.

Proxies (docs/design.md "Network and safety", "Proxies"): with ``proxy`` the same
backend resolves and checks first, then opens a tunnel through the proxy to the checked
IP (``workers._upstream``), so the proxy never sees a name nor a refused address.

Also: ``trust_env=False`` (no proxies from the environment, which would bypass
the guard and resolve names themselves; no ``.netrc`` credentials), and the
client's cookie jar refuses every cookie a server sets, so nothing set by one
site is sent to another (docs/design.md "Network and safety"). A client made
with ``cookies_file`` (an ``[access.<group>]`` session, ``workers.cookies``)
sends that file's cookies where a browser would: matching domain (a host-only
cookie to its host alone) and path, ``https`` only when secure, not once expired.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
import socket
import ssl
import sys
import typing
import urllib.request
from collections.abc import Awaitable, Callable, Iterable
from http.cookiejar import CookieJar, CookiePolicy, DefaultCookiePolicy
from pathlib import Path

import httpcore
import httpx

from workers._netguard import check_addresses
from workers._pools import OriginPools
from workers._streams import AsyncioBackend
from workers._upstream import Upstream, tunnel
from workers.cookies import read_cookies
from workers.errors import AddressRefused

__all__ = ["Resolver", "SafeTransport", "make_client", "system_resolver"]

# per origin (``workers._pools``); of the origins without a request under way, at most
# _IDLE_ORIGINS keep their connections, at most _IDLE_CONNECTIONS of them in all
_DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=10)
_IDLE_ORIGINS = 256
_IDLE_CONNECTIONS = 256


def _sniffio_absent() -> None:
    """Make httpcore's ``import sniffio`` fail at once when sniffio is not installed.

    httpcore imports it each time it sets up a lock or an event, several times a
    request; a module that is not there is searched for on ``sys.path`` every time (a
    twentieth of an audit's time). ``None`` in ``sys.modules`` is Python's record of a
    module known to be absent: the import then raises ``ImportError`` at once, as the
    search would have. Nothing changes when sniffio is installed.
    """
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolve ``(host, port)`` to IP address strings; tests inject a fake."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The system's resolver (``loop.getaddrinfo``), TCP addresses only, in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 scope id
        if ip not in addresses:
            addresses.append(ip)
    return addresses


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Policy:
    """Which addresses may be connected to, and the resolver that finds them."""

    def __init__(
        self, *, allow_private: bool, allow_networks: tuple[str, ...], resolver: Resolver
    ) -> None:
        for network in allow_networks:  # a bad CIDR is a configuration error: fail now
            ipaddress.ip_network(network, strict=False)
        self.allow_private = allow_private
        self.allow_networks = tuple(allow_networks)
        self.resolver = resolver

    def check(self, addresses: list[str]) -> None:
        check_addresses(
            addresses, allow_private=self.allow_private, allow_networks=self.allow_networks
        )

    async def resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        """Resolve ``host`` and check every address; return them all (all allowed)."""
        if _is_ip(host):
            self.check([host])
            return [host]
        try:
            async with asyncio.timeout(timeout):
                addresses = await self.resolver(host, port)
        except AddressRefused:  # an OSError too: keep it from the branch below
            raise
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:  # socket.gaierror and friends
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        self.check(addresses)
        return addresses


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks at connect time, then connects to the checked IP (no rebinding),
    directly or, with ``upstream``, through the operator's proxy (``workers._upstream``).

    The one guarded path to a proxy: the httpx clients use it as their pool's backend,
    and the guard proxy of the yt-dlp child (``workers._guard_proxy``) opens each of its
    tunnels with it."""

    def __init__(self, policy: _Policy, upstream: Upstream | None = None,
                 proxy_tls: ssl.SSLContext | None = None,
                 source_address: str | None = None) -> None:
        self._policy = policy
        self._source = source_address  # the local address direct connections come from
        self._backend = AsyncioBackend()  # asyncio's transports (workers._streams)
        self._upstream = upstream
        self._proxy_tls = proxy_tls or httpx.create_ssl_context(trust_env=False)

    async def _open(self, ip: str, port: int, timeout: float | None,
                    local_address: str | None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
                    ) -> httpcore.AsyncNetworkStream:
        if self._upstream is not None:
            return await tunnel(self._upstream, ip, port, backend=self._backend,
                                timeout=timeout, proxy_tls=self._proxy_tls)
        return await self._backend.connect_tcp(ip, port, timeout=timeout,
                                               local_address=local_address or self._source,
                                               socket_options=socket_options)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._policy.resolve(host, port, timeout)
        error: Exception | None = None
        for ip in addresses:
            try:
                return await self._open(ip, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, httpcore.ProxyError) as exc:
                error = exc  # try the next checked address
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused(f"unix:{path}")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class SafeTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncHTTPTransport`` that connects only to allowed (public) addresses.

    Raises ``workers.errors.AddressRefused`` (not an httpx error) for a refused
    hop; other failures are the usual ``httpx`` exceptions.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allow_networks: tuple[str, ...] = (),
        verify: bool | ssl.SSLContext = True,
        limits: httpx.Limits = _DEFAULT_LIMITS,
        resolver: Resolver | None = None,
        proxy: str | None = None,
        source_address: str | None = None,
    ) -> None:
        _sniffio_absent()
        self._policy = _Policy(
            allow_private=allow_private,
            allow_networks=allow_networks,
            resolver=resolver or system_resolver,
        )
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._inner = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits, trust_env=False)
        # httpx's transport takes no network backend, so give it a pool built with
        # ours (same settings as httpx would use). Checked, so an httpx upgrade that
        # renames the attribute fails here rather than silently dropping the guard.
        if not isinstance(getattr(self._inner, "_pool", None), httpcore.AsyncConnectionPool):
            raise TypeError("httpx.AsyncHTTPTransport has no _pool to guard; check httpx")
        # One pool per origin (``workers._pools``): httpcore's single pool costs a request
        # time in the square of its connections and drops idle ones while more are open.
        self._inner._pool = OriginPools(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(
                self._policy, Upstream.parse(proxy) if proxy else None, ssl_context,
                source_address),
            idle_origins=_IDLE_ORIGINS, idle_connections=_IDLE_CONNECTIONS,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"refused: scheme {request.url.scheme!r} is not http(s)", request=request
            )
        host = request.url.host
        if _is_ip(host):  # literal address: refuse before anything is sent
            self._policy.check([host])
        return await self._inner.handle_async_request(request)

    @property
    def origins(self) -> int:
        """The origins whose connections are held now (``workers._pools``: bounded)."""
        pools = self._inner._pool
        return pools.origins if isinstance(pools, OriginPools) else 0

    async def aclose(self) -> None:
        await self._inner.aclose()


class _NoCookies(CookiePolicy):
    """Accept no cookie and send none (docs/design.md "Network and safety")."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: typing.Any, request: typing.Any) -> bool:
        return False

    def return_ok(self, cookie: typing.Any, request: typing.Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: typing.Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: typing.Any) -> bool:
        return False


class _SessionOnly(DefaultCookiePolicy):
    """Send the session's cookies as a browser would; accept none from servers."""

    def __init__(self) -> None:
        super().__init__(strict_ns_domain=DefaultCookiePolicy.DomainStrictNonDomain)

    def set_ok(self, cookie: typing.Any, request: typing.Any) -> bool:
        return False


class _Session:
    """The request hook that gives each request, each redirect hop too, the cookies of
    a session (``cookies_file``) that match it.

    A hook, not the client's jar: httpx copies the client's cookies into a jar with the
    default policy for every request, which would send a host-only cookie to subdomains.
    The client's own jar stays ``_NoCookies``: what servers set is neither kept nor sent.
    """

    def __init__(self, cookies_file: Path) -> None:
        self._jar = CookieJar(policy=_SessionOnly())
        for cookie in read_cookies(cookies_file):  # CookiesFileError: the caller's to report
            self._jar.set_cookie(cookie)  # set_cookie asks no policy; servers' never come here

    async def __call__(self, request: httpx.Request) -> None:
        probe = urllib.request.Request(str(request.url))
        self._jar.add_cookie_header(probe)  # domain, path, secure, expiry (http.cookiejar)
        header = probe.get_header("Cookie")
        if header:
            request.headers["Cookie"] = header


class _Refused(httpx.Cookies):
    """A client's cookie store that takes nothing from responses.

    httpx hands every response to its client's ``Cookies.extract_cookies``, which builds
    a ``urllib`` request and response for ``http.cookiejar`` to parse each ``Set-Cookie``
    and then ask the policy, ``_NoCookies``, which refuses it: a twentieth of an audit's
    time, for nothing. Here nothing is parsed; the jar and its policy stay as they were,
    so a cookie could not be kept even if something else put it there.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def make_client(
    *,
    allow_private: bool,
    allow_networks: tuple[str, ...] = (),
    timeout: float = 20.0,
    max_redirects: int = 10,
    user_agent: str | None = None,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | None = None,
    cookies_file: Path | None = None,
    proxy: str | None = None,
    source_address: str | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every request and redirect hop goes through ``SafeTransport``.

    ``timeout`` bounds connect, each read, each write and the pool wait (httpx
    semantics: per operation, not per request; callers add an overall deadline).
    ``verify`` is the TLS context that checks servers: ``None`` is httpx's default
    (certifi's roots, hostnames checked). Only a context can be given, never
    ``False``; the application passes none (``preserver.net``), and tests pass one
    that trusts their own test CA. ``cookies_file`` (``Access.cookies_file``) is
    read here, into the client's jar; a file that cannot be used raises
    ``workers.errors.CookiesFileError``.

    ``proxy`` (``http://``, ``https://``, ``socks5://`` URL, credentials allowed): every
    connection is then a tunnel through it to the address the guard checked
    (``workers._upstream``); TLS to the target stays end to end, and no request carries
    a ``Proxy-Authorization`` header (the tunnel is opened below HTTP). ``None``: direct.
    Proxies from the environment are never used.

    ``source_address``: the local IP address direct connections are made from (a machine
    with several outside addresses); ``None``: the system's choice.
    """
    headers = {"User-Agent": user_agent} if user_agent else None
    hooks: dict[str, list[Callable[..., typing.Any]]] | None = (
        {"request": [_Session(cookies_file)]} if cookies_file is not None else None)
    client = httpx.AsyncClient(
        transport=SafeTransport(
            allow_private=allow_private, allow_networks=allow_networks, resolver=resolver,
            verify=True if verify is None else verify, proxy=proxy,
            source_address=source_address,
        ),
        follow_redirects=True,
        max_redirects=max_redirects,
        timeout=httpx.Timeout(timeout),
        headers=headers,
        event_hooks=hooks,
        trust_env=False,
    )
    # httpx's ``cookies`` setter wraps what it is given in its own ``Cookies``; the store
    # that parses nothing (``_Refused``) is put in its place. Checked, so an httpx upgrade
    # that renames the attribute fails here rather than silently parsing again.
    if not isinstance(getattr(client, "_cookies", None), httpx.Cookies):
        raise TypeError("httpx.AsyncClient has no _cookies to replace; check httpx")
    client._cookies = _Refused(CookieJar(policy=_NoCookies()))
    return client
