"""Refuse connections to non-public addresses (docs/design.md, "Network and safety").

Two parts:

- ``address_allowed(ip, ...)`` is the pure rule, shared by every fetcher: the
  page-snapshot transport (``workers.net.SafeTransport``) checks each redirect
  hop with it, and the wrapper below checks yt-dlp's lookups with it. Only
  global addresses pass: ``ipaddress.is_global`` and an explicit deny list of
  the IANA special-purpose ranges, so the rule is the same on every Python; an
  IPv6 address must be global unicast (2000::/3) or well-known NAT64, and one
  that embeds an IPv4 one (6to4, NAT64, Teredo) must pass for the IPv4 one too.
  IPv4-mapped, IPv4-compatible and SIIT-translated forms are refused.
- ``install(...)`` wraps ``socket.getaddrinfo`` for the whole process. It is
  meant for the throw-away child process that runs yt-dlp: every connection
  yt-dlp opens (urllib3/requests, urllib, websockets, each redirect hop,
  thumbnails, subtitles, fragments) resolves its host through
  ``socket.getaddrinfo`` first and then connects to exactly the addresses it
  returned, so refusing there covers all hops and leaves no window for DNS
  rebinding. It must never be installed in the main process: it is global.

A host is refused when *any* address it resolves to is refused, so a name that
mixes public and private records cannot be used to reach the private one.

    >>> address_allowed("8.8.8.8", allow_private=False, allow_networks=())
    True
    >>> address_allowed("169.254.169.254", allow_private=False, allow_networks=())
    False
    >>> address_allowed("127.0.0.1", allow_private=False, allow_networks=("127.0.0.1/32",))
    True
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from workers.errors import AddressRefused

__all__ = ["address_allowed", "asking_servers", "check_addresses", "install"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Refused whatever ``ipaddress.is_global`` says: Python versions disagree about
# several of these (3.11 calls ::7f00:1, ::ffff:8.8.8.8, 64:ff9b:1::1, fec0::1
# and 192.0.0.9 global), so the rule does not depend on the interpreter. From
# the IANA IPv4 and IPv6 special-purpose address registries (RFC 6890), plus
# multicast and the deprecated ranges.
_DENIED: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network" (RFC 791); 0.0.0.0 reaches the local host
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # private (RFC 1918)
        "100.64.0.0/10",  # shared address space, carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254 (RFC 3927)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
        "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",  # documentation (RFC 5737)
        "192.88.99.0/24",  # 6to4 relay anycast, deprecated (RFC 7526)
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the limited broadcast 255.255.255.255
        "::/96",  # unspecified, loopback, IPv4-compatible ::a.b.c.d (deprecated, RFC 4291 2.5.5.1)
        "::ffff:0:0/96",  # IPv4-mapped: never on the wire, only a socket-API spelling of IPv4
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "100::/64",  # discard-only (RFC 6666)
        "2001::/23",  # IETF protocol assignments, Teredo 2001::/32 among them (RFC 2928, 4380)
        "2001:db8::/32", "3fff::/20",  # documentation (RFC 3849, RFC 9637)
        "5f00::/16",  # SRv6 SIDs (RFC 9602)
        "fc00::/7",  # unique local (RFC 4193)
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local, deprecated (RFC 3879)
        "ff00::/8",  # multicast
    )
)
# Only global unicast (RFC 4291 section 2.4) is routed on the IPv6 internet: the
# rest of the space is reserved or special, whatever ``ipaddress`` says of it.
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
# RFC 6052 well-known NAT64 prefix: 64:ff9b::a00:1 reaches 10.0.0.1 through a
# NAT64 gateway, though ``ipaddress`` calls it global. Outside 2000::/3, it is
# decided by the IPv4 address it embeds.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# IPv6 spellings of one IPv4 address in their last 32 bits: IPv4-compatible
# ::a.b.c.d (RFC 4291 2.5.5.1), IPv4-mapped ::ffff:a.b.c.d (2.5.5.2),
# SIIT-translated ::ffff:0:a.b.c.d (RFC 6145 section 2.1, RFC 2765) and NAT64.
_TRANSLATED = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("::ffff:0:0/96"),
               ipaddress.IPv6Network("::ffff:0:0:0/96"), _NAT64)


def _translated_ipv4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address that ``addr`` spells as IPv6 (mapped, compatible, SIIT, NAT64)."""
    if isinstance(addr, ipaddress.IPv6Address) and any(addr in n for n in _TRANSLATED):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def _embedded_ipv4(addr: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to: its IPv4 spelling, 6to4, Teredo."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return []
    found = [a for a in (_translated_ipv4(addr), addr.sixtofour) if a is not None]
    if addr.teredo is not None:
        found.extend(addr.teredo)  # (server, client)
    return found


def _public(addr: IPAddress) -> bool:
    if addr.version == 6 and addr not in _GLOBAL_UNICAST and addr not in _NAT64:
        return False
    return addr.is_global and not any(addr in n for n in _DENIED if n.version == addr.version)


def _inside(addr: IPAddress | None, networks: tuple[IPNetwork, ...]) -> bool:
    return addr is not None and any(addr in n for n in networks if n.version == addr.version)


@functools.lru_cache(maxsize=64)
def _networks(allow_networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in allow_networks)


def address_allowed(ip: str, *, allow_private: bool, allow_networks: tuple[str, ...]) -> bool:
    """May a capture connect to ``ip``? The one address rule of every fetcher.

    True for any address when ``allow_private``; for an address inside one of the
    ``allow_networks`` CIDRs (an IPv6 spelling of an IPv4 address, such as
    ``::ffff:127.0.0.1``, is inside when either is; a 6to4 or Teredo address
    only when it is itself); otherwise only for a global address
    (``ipaddress.is_global``) outside the deny list ``_DENIED``, in 2000::/3 or
    64:ff9b::/96 if IPv6, and an IPv6 address that embeds an IPv4 one (6to4,
    NAT64, Teredo) must pass for both. Text that is not an IP address is not
    allowed. A malformed CIDR in ``allow_networks`` raises ``ValueError``
    (configuration is checked at load).
    """
    if allow_private:
        return True
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 scope id
    except ValueError:
        return False
    networks = _networks(tuple(allow_networks))
    if _inside(addr, networks) or _inside(_translated_ipv4(addr), networks):
        return True
    return all(_public(c) for c in (addr, *_embedded_ipv4(addr)))


def check_addresses(
    addresses: Iterable[str], *, allow_private: bool, allow_networks: tuple[str, ...]
) -> None:
    """Raise ``AddressRefused`` for the first address that is not allowed."""
    for ip in addresses:
        if not address_allowed(ip, allow_private=allow_private, allow_networks=allow_networks):
            raise AddressRefused(ip)


_GetAddrInfo = Callable[..., list[tuple[Any, ...]]]

# Set while a PO-token provider asks its token server (``asking_servers``): only then do
# the ``servers`` given to ``install`` pass the guard.
_ASKING = contextvars.ContextVar("preserver_asking_token_server", default=False)


@contextlib.contextmanager
def asking_servers() -> Iterator[None]:
    """Within this block (a PO-token provider's request), the ``servers`` exempted by
    ``install`` may be looked up unchecked; outside it, they are checked like any host."""
    token = _ASKING.set(True)
    try:
        yield
    finally:
        _ASKING.reset(token)


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _guarded(
    real: _GetAddrInfo, allow_private: bool, allow_networks: tuple[str, ...],
    exempt: frozenset[tuple[str, int]] = frozenset(),
    servers: frozenset[tuple[str, int]] = frozenset(),
) -> _GetAddrInfo:
    @functools.wraps(real)
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        results = real(host, *args, **kwargs)
        port = _port(args[0] if args else kwargs.get("port"))
        if (str(host), port) in exempt:  # the guard proxy, the operator's proxy: named, not reached by a capture
            return results
        if _ASKING.get() and (str(host), port) in servers:  # a provider asks its token server
            return results
        if host is not None:  # host None: a passive (bind) lookup, nothing is reached
            check_addresses(
                (str(r[4][0]) for r in results if r[0] in (socket.AF_INET, socket.AF_INET6)),
                allow_private=allow_private,
                allow_networks=allow_networks,
            )
        return results

    getaddrinfo.__netguard__ = True  # type: ignore[attr-defined]
    return getaddrinfo


def install(*, allow_private: bool, allow_networks: tuple[str, ...],
            exempt: Iterable[tuple[str, int]] = (),
            servers: Iterable[tuple[str, int]] = ()) -> None:
    """Wrap ``socket.getaddrinfo`` in this process (the yt-dlp child only).

    Validates ``allow_networks`` first, so a bad CIDR fails here, loudly.
    Installing twice replaces the earlier rule instead of stacking wrappers.
    ``exempt``: exact ``(host, port)`` pairs looked up unchecked, for a proxied
    capture only (``workers._guard_proxy``): yt-dlp's connection to the local guard
    proxy, and the guard proxy's to the operator's proxy, which the operator named and
    which may well be on loopback. The targets themselves are checked by the guard
    proxy (docs/design.md "Network and safety", "Proxies"). ``servers``: exact pairs
    looked up unchecked only inside ``asking_servers`` (the PO-token servers, asked by
    their providers; a page, a redirect or a playlist naming one is checked as any host).
    """
    _networks(tuple(allow_networks))
    real = socket.getaddrinfo
    while getattr(real, "__netguard__", False):
        real = real.__wrapped__  # type: ignore[attr-defined]
    socket.getaddrinfo = _guarded(real, allow_private, tuple(allow_networks),
                                  frozenset((str(h), int(p)) for h, p in exempt),
                                  frozenset((str(h), int(p)) for h, p in servers))
