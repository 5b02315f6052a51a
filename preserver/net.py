"""The application's HTTP client, built in one place from ``[network]``.

Capture, audit, timestamping and ``doctor`` all fetch through ``http_client``, so
every request obeys the same address rules (``allow_private``, ``allow_networks``),
redirect limit and User-Agent; only the per-operation timeout differs by caller.
"""

from __future__ import annotations

import httpx

from preserver.config import NetworkConfig
from workers import make_client


def http_client(network: NetworkConfig, *, timeout: float) -> httpx.AsyncClient:
    """A ``workers.net.make_client`` client with ``network``'s settings.

    ``timeout`` bounds each connect, read, write and pool wait (httpx semantics).
    """
    return make_client(allow_private=network.allow_private,
                       allow_networks=network.allow_networks,
                       timeout=timeout,
                       max_redirects=network.max_redirects,
                       user_agent=network.user_agent or None)
