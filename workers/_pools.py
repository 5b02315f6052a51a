"""One httpcore connection pool per origin, so picking a connection costs the same with
one host or thousands (``workers.net.SafeTransport``'s pool).

httpcore's ``AsyncConnectionPool`` looks at every connection it holds for every request
and every response closed: each one's ``has_expired`` (a ``poll`` of an idle socket)
and ``is_idle``, and, for each, the count of all of them, so its work grows with the
square of the connections held; and since that count is of every connection, not of the
idle ones, any idle connection is closed while more than ``max_keepalive_connections``
are open, however busy the others are (httpcore 1.0.9). An audit holding a connection or
two to each of dozens of hosts then opened a new connection for nearly every check, and
spent more time choosing connections than checking.

Here each origin (scheme, host, port) has a pool of its own, made on its first request,
with the caller's per-pool limits; a request touches only its origin's few connections.
Pools whose requests have all ended are kept for reuse, the most recently used of them:
at most ``idle_origins`` pools, holding at most ``idle_connections`` connections between
them (each counted as it went idle); an older one is closed (its connections with it), so
what is held stays bounded by the requests under way plus those limits, however many hosts
a run meets. The bound is wide enough for an audit's rotation over its hosts: an audit
takes its targets in id order, so one report's hosts come round again and again, and
with only 32 idle pools an audit over 50 hosts found each host's pool closed by the time
it came back and opened a connection for one check in two (``bench/audit_rate.py``).

Every connection of every pool is opened by the same ``network_backend`` (the guard: the
address is resolved, checked, and connected to as checked), as before.
"""

from __future__ import annotations

import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpcore

__all__ = ["OriginPools"]

_Key = tuple[bytes, bytes, int | None]


@dataclass
class _Entry:
    pool: httpcore.AsyncConnectionPool
    busy: int = 0  # requests sent and not yet closed
    held: int = 0  # its connections when it went idle (counted against idle_connections)


class OriginPools(httpcore.AsyncConnectionPool):
    """An ``httpcore.AsyncConnectionPool`` (what httpx's transport holds) that sends each
    request through the pool of its origin: ``max_connections`` and
    ``max_keepalive_connections`` hold per origin, and at most ``idle_origins`` origins
    without a request under way, holding at most ``idle_connections`` connections, keep
    their pools (the least recently used is closed)."""

    def __init__(self, *, ssl_context: ssl.SSLContext, max_connections: int | None,
                 max_keepalive_connections: int | None, keepalive_expiry: float | None,
                 network_backend: httpcore.AsyncNetworkBackend, idle_origins: int,
                 idle_connections: int) -> None:
        super().__init__(ssl_context=ssl_context, network_backend=network_backend)
        self._ssl_context, self._backend = ssl_context, network_backend
        self._limits = (max_connections, max_keepalive_connections, keepalive_expiry)
        self._idle_origins, self._idle_connections = idle_origins, idle_connections
        self._idle_held = 0  # connections of the idle pools, as counted when they went idle
        self._pools: dict[_Key, _Entry] = {}
        self._idle: OrderedDict[_Key, _Entry] = OrderedDict()  # least recently used first

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        url = request.url
        key = (url.scheme, url.host, url.port)
        entry = self._pools.get(key)
        if entry is None:
            entry = self._pools[key] = _Entry(self._new_pool())
        if self._idle.pop(key, None) is not None:
            self._idle_held -= entry.held
        entry.busy += 1
        try:
            response = await entry.pool.handle_async_request(request)
        except BaseException:
            await self._release(key, entry)
            raise
        response.stream = _Released(response, self, key, entry)
        return response

    def _new_pool(self) -> httpcore.AsyncConnectionPool:
        connections, keepalive, expiry = self._limits
        return httpcore.AsyncConnectionPool(
            ssl_context=self._ssl_context, max_connections=connections,
            max_keepalive_connections=keepalive, keepalive_expiry=expiry,
            network_backend=self._backend)

    async def _release(self, key: _Key, entry: _Entry) -> None:
        entry.busy -= 1
        if entry.busy:
            return
        if self._pools.get(key) is not entry:  # all pools closed (``aclose``) meanwhile
            await entry.pool.aclose()
            return
        entry.held = len(entry.pool.connections)
        self._idle[key] = entry
        self._idle_held += entry.held
        while self._idle and (len(self._idle) > self._idle_origins
                              or self._idle_held > self._idle_connections):
            old_key, old = self._idle.popitem(last=False)
            self._idle_held -= old.held
            del self._pools[old_key]
            await old.pool.aclose()

    @property
    def origins(self) -> int:
        """The pools held now (for tests: bounded memory)."""
        return len(self._pools)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        self._idle.clear()
        self._idle_held = 0
        for entry in pools:
            await entry.pool.aclose()


class _Released:
    """A response's body; closing it (once) tells the pools its request has ended."""

    def __init__(self, response: httpcore.Response, pools: OriginPools, key: _Key,
                 entry: _Entry) -> None:
        self._stream = response.stream
        self._pools, self._key, self._entry = pools, key, entry
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:  # type: ignore[union-attr]
            yield chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            aclose = getattr(self._stream, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            await self._pools._release(self._key, self._entry)
