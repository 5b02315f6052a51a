"""The application's HTTP clients, built in one place from ``[network]`` and ``[access.*]``.

Capture, audit, timestamping and ``doctor`` all fetch through ``http_client``, so
every request obeys the same address rules (``allow_private``, ``allow_networks``),
redirect limit and User-Agent; only the per-operation timeout differs by caller.

A politeness group's access (``[access.<group>]``) may need a client of its own: a
proxy (``Clients`` keeps one shared client per proxy, closed together when the run or
audit ends: docs/design.md "Network and safety", "Proxies"), a session (a client per
capture, its cookies read then: ``capture_client``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from preserver.config import Config, NetworkConfig
from workers import Access, CookiesFileError, make_client


def http_client(network: NetworkConfig, *, timeout: float,
                access: Access | None = None) -> httpx.AsyncClient:
    """A ``workers.net.make_client`` client with ``network``'s settings.

    ``timeout`` bounds each connect, read, write and pool wait (httpx semantics).
    ``access``: its session's cookies file is read now and its cookies are sent
    (``workers.errors.CookiesFileError`` when the file cannot be used), and when
    ``access.proxied`` every connection goes through its proxy, each target checked first.
    """
    return make_client(allow_private=network.allow_private,
                       allow_networks=network.allow_networks,
                       timeout=timeout,
                       max_redirects=network.max_redirects,
                       user_agent=network.user_agent or None,
                       cookies_file=access.cookies_file if access is not None else None,
                       proxy=access.proxy if access is not None and access.proxied else None,
                       source_address=network.source_address or None)


def capture_client(shared: httpx.AsyncClient, network: NetworkConfig, *, timeout: float,
                   access: Access) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
    """The client a capture with ``access`` fetches through: the run's ``shared`` one, or
    for a session a client of its own whose cookies are read from the file now, so that
    a file replaced during a run is used from the next capture on. A file that cannot be
    used raises ``CookiesFileError`` naming the session (``session LABEL: cookies file
    not found``); the capture is then not made at all, not even anonymously."""
    if not access.session:
        return contextlib.nullcontext(shared)
    try:
        return http_client(network, timeout=timeout, access=access)
    except CookiesFileError as exc:
        raise CookiesFileError(f"session {access.name}: cookies file {exc}") from exc


class Clients:
    """The HTTP clients of one run or audit: the direct one, and one per proxy.

    ``get(access)`` is the shared client of ``access``'s way out: through its proxy when
    ``access.proxied``, direct otherwise (an access with ``proxy_on_failure_only``
    starts direct; ``access.attempts()`` names the proxied second try); keyed by the
    proxy URL. ``client(access)`` is what a fetch with ``access`` uses: that shared
    client, or for a session one of its own (``capture_client``). ``aclose`` closes the
    shared ones.
    """

    def __init__(self, network: NetworkConfig, *, timeout: float) -> None:
        self._network, self._timeout = network, timeout
        self._clients: dict[str | None, httpx.AsyncClient] = {}

    def get(self, access: Access) -> httpx.AsyncClient:
        key = access.proxy if access.proxied else None
        client = self._clients.get(key)
        if client is None:
            client = http_client(self._network, timeout=self._timeout, access=Access(proxy=key))
            self._clients[key] = client
        return client

    def client(self, access: Access) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        return capture_client(self.get(access), self._network, timeout=self._timeout,
                              access=access)

    @contextlib.asynccontextmanager
    async def for_capture(self, access: Access
                          ) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient | None]]:
        """The client of a capture's first attempt, and the proxied one of its second
        (``access.attempts()``: only with ``proxy_on_failure_only``), else None."""
        first, *then = access.attempts()
        async with contextlib.AsyncExitStack() as stack:
            http = await stack.enter_async_context(self.client(first))
            proxied = await stack.enter_async_context(self.client(then[0])) if then else None
            yield http, proxied

    @property
    def direct(self) -> httpx.AsyncClient:
        """The client without a proxy or session (webhooks, Wayback lookups)."""
        return self.get(Access())

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def access_for(config: Config, group: str) -> Access:
    """The workers' ``Access`` of politeness group ``group`` (``[access.<group>]``)."""
    a = config.access_for(group)
    return Access(group=group, label=a.label,
                  cookies_file=Path(a.cookies_file) if a.cookies_file else None,
                  proxy=a.proxy or None, proxy_on_failure_only=a.proxy_on_failure_only,
                  extractor_args=a.extractor_args, audit=a.audit)
