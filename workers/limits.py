"""Concurrency limits: a global semaphore plus one per host (DESIGN.md, per-host politeness).

YouTube rate-limits an IP within minutes of a burst, and its traffic spans
several hostnames (``www.youtube.com``, ``youtu.be``, ``*.googlevideo.com``),
so hosts are grouped by platform before they are counted:

    >>> host_group("https://youtu.be/45WIwFETn3E")
    'youtube'
    >>> host_group("https://m.facebook.com/story.php?story_fbid=1")
    'facebook'
    >>> host_group("https://Example.org./a")
    'example.org'

A job holds ``slot(host)`` for as long as it talks to that host:

    limiter = HostLimiter(global_limit=8, per_host=2, overrides={"example.org": 4})
    async with limiter.slot("https://youtu.be/45WIwFETn3E"):
        ...

The per-host slot is taken first and the global one second, so a job waiting
for a busy host does not hold one of the global slots meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["HostLimiter", "host_group"]

# Registrable domains (and their subdomains) that count as one host.
_GROUPS: dict[str, str] = {
    "youtube.com": "youtube",
    "youtu.be": "youtube",
    "youtube-nocookie.com": "youtube",
    "googlevideo.com": "youtube",
    "ytimg.com": "youtube",
    "facebook.com": "facebook",
    "fb.watch": "facebook",
    "fb.com": "facebook",
    "fbcdn.net": "facebook",
}


def host_group(url: str) -> str:
    """The politeness group of a URL or bare hostname: a platform name, else the hostname."""
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname or url
    except ValueError:  # malformed port or brackets: group by the text itself
        host = url
    host = host.strip().rstrip(".").lower()
    labels = host.split(".")
    for i in range(len(labels) - 1):
        group = _GROUPS.get(".".join(labels[i:]))
        if group is not None:
            return group
    return host


@dataclass
class _Entry:
    semaphore: asyncio.Semaphore
    users: int = 0


class HostLimiter:
    """At most ``global_limit`` jobs at once, and ``per_host`` (or ``overrides[group]``) a group."""

    def __init__(
        self, global_limit: int, per_host: int, overrides: Mapping[str, int] | None = None
    ) -> None:
        overrides = dict(overrides or {})
        limits = {"global_limit": global_limit, "per_host": per_host, **overrides}
        for name, value in limits.items():
            if value < 1:
                raise ValueError(f"concurrency limit for {name} must be at least 1, not {value}")
        self._global = asyncio.Semaphore(global_limit)
        self._per_host = per_host
        self._overrides = {host_group(k): v for k, v in overrides.items()}
        self._hosts: dict[str, _Entry] = {}

    def limit_for(self, group: str) -> int:
        return self._overrides.get(group, self._per_host)

    def slot(self, host: str) -> AbstractAsyncContextManager[None]:
        """Hold one slot for ``host`` (a hostname or URL) and one global slot."""
        return self._slot(host_group(host))

    @contextlib.asynccontextmanager
    async def _slot(self, group: str) -> AsyncIterator[None]:
        entry = self._hosts.get(group)
        if entry is None:
            entry = self._hosts[group] = _Entry(asyncio.Semaphore(self.limit_for(group)))
        entry.users += 1  # counts waiters too, so the entry is not dropped under them
        try:
            async with entry.semaphore, self._global:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._hosts[group]  # bounded memory across many distinct hosts
