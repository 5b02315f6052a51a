"""Refuse connections to non-public addresses (docs/design.md, "Network and safety").

Two parts:

- ``address_allowed(ip, ...)`` is the pure rule, shared by every fetcher (the
  page-snapshot transport uses it for each redirect hop).
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

import functools
import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

from workers.errors import AddressRefused

__all__ = ["address_allowed", "check_addresses", "install"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 6052 well-known NAT64 prefix: 64:ff9b::a00:1 reaches 10.0.0.1 through a
# NAT64 gateway, though ``ipaddress`` calls it global.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(addr: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to (mapped, 6to4, NAT64)."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return []
    found = [a for a in (addr.ipv4_mapped, addr.sixtofour) if a is not None]
    if addr in _NAT64:
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return found


def _public(addr: IPAddress) -> bool:
    # ``is_global`` is False for loopback, RFC 1918, link-local (169.254/16,
    # fe80::/10), unspecified, reserved, 100.64/10 shared space, documentation
    # ranges; multicast must be checked on its own (224.0.0.1 counts as global).
    return addr.is_global and not addr.is_multicast


@functools.lru_cache(maxsize=64)
def _networks(allow_networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in allow_networks)


def address_allowed(ip: str, *, allow_private: bool, allow_networks: tuple[str, ...]) -> bool:
    """May a capture connect to ``ip``?

    True for public addresses, for any address when ``allow_private``, and for
    addresses inside one of the ``allow_networks`` CIDRs. An IPv6 address that
    embeds an IPv4 one (``::ffff:10.0.0.1``, 6to4, NAT64) must pass for both.
    Text that is not an IP address is not allowed. A malformed CIDR in
    ``allow_networks`` raises ``ValueError`` (configuration is checked at load).
    """
    if allow_private:
        return True
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
        addr = ipaddress.IPv6Address(ip.split("%", 1)[0])
    candidates: list[IPAddress] = [addr, *_embedded_ipv4(addr)]
    networks = _networks(tuple(allow_networks))
    if any(c in n for c in candidates for n in networks if c.version == n.version):
        return True
    return all(_public(c) for c in candidates)


def check_addresses(
    addresses: Iterable[str], *, allow_private: bool, allow_networks: tuple[str, ...]
) -> None:
    """Raise ``AddressRefused`` for the first address that is not allowed."""
    for ip in addresses:
        if not address_allowed(ip, allow_private=allow_private, allow_networks=allow_networks):
            raise AddressRefused(ip)


_GetAddrInfo = Callable[..., list[tuple[Any, ...]]]


def _guarded(
    real: _GetAddrInfo, allow_private: bool, allow_networks: tuple[str, ...]
) -> _GetAddrInfo:
    @functools.wraps(real)
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        results = real(host, *args, **kwargs)
        if host is not None:  # host None: a passive (bind) lookup, nothing is reached
            check_addresses(
                (str(r[4][0]) for r in results if r[0] in (socket.AF_INET, socket.AF_INET6)),
                allow_private=allow_private,
                allow_networks=allow_networks,
            )
        return results

    getaddrinfo.__netguard__ = True  # type: ignore[attr-defined]
    return getaddrinfo


def install(*, allow_private: bool, allow_networks: tuple[str, ...]) -> None:
    """Wrap ``socket.getaddrinfo`` in this process (the yt-dlp child only).

    Validates ``allow_networks`` first, so a bad CIDR fails here, loudly.
    Installing twice replaces the earlier rule instead of stacking wrappers.
    """
    _networks(tuple(allow_networks))
    real = socket.getaddrinfo
    while getattr(real, "__netguard__", False):
        real = real.__wrapped__  # type: ignore[attr-defined]
    socket.getaddrinfo = _guarded(real, allow_private, tuple(allow_networks))
