"""The application's HTTP client, built in one place from ``[network]``.

Capture, audit, timestamping and ``doctor`` all fetch through ``http_client``, so
every request obeys the same address rules (``allow_private``, ``allow_networks``),
redirect limit and User-Agent; only the per-operation timeout differs by caller.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx

from preserver.config import Config, NetworkConfig
from workers import Access, CookiesFileError, make_client


def http_client(network: NetworkConfig, *, timeout: float,
                access: Access | None = None) -> httpx.AsyncClient:
    """A ``workers.net.make_client`` client with ``network``'s settings.

    ``timeout`` bounds each connect, read, write and pool wait (httpx semantics).
    ``access``: its session's cookies file is read now and its cookies are sent
    (``workers.errors.CookiesFileError`` when the file cannot be used).
    """
    return make_client(allow_private=network.allow_private,
                       allow_networks=network.allow_networks,
                       timeout=timeout,
                       max_redirects=network.max_redirects,
                       user_agent=network.user_agent or None,
                       cookies_file=access.cookies_file if access is not None else None)


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


def access_for(config: Config, group: str) -> Access:
    """The workers' ``Access`` of politeness group ``group`` (``[access.<group>]``)."""
    a = config.access_for(group)
    return Access(group=group, label=a.label,
                  cookies_file=Path(a.cookies_file) if a.cookies_file else None,
                  proxy=a.proxy or None, proxy_on_failure_only=a.proxy_on_failure_only,
                  extractor_args=a.extractor_args, audit=a.audit)
