"""Politeness: concurrency per host (``HostLimiter``) and request rate per host (``RateLimiter``).

YouTube rate-limits an IP within minutes of a burst, and its traffic spans
several hostnames (``www.youtube.com``, ``youtu.be``, ``*.googlevideo.com``),
so hosts are grouped by platform (``workers.platforms``) before they are counted:

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
for a busy host does not hold one of the global slots meanwhile. Audits also
space their requests per group with a ``RateLimiter``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from urllib.parse import urlsplit

from workers.platforms import politeness_group

__all__ = ["HostLimiter", "RateLimiter", "host_group"]


def host_group(url: str) -> str:
    """The politeness group of a URL or bare hostname: a platform name, else the hostname.

    Platforms and their hosts are ``workers.platforms.PLATFORM_HOSTS``.
    """
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname or url
    except ValueError:  # malformed port or brackets: group by the text itself
        host = url
    return politeness_group(host)


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


class RateLimiter:
    """Requests per second per host group, with bursts, jitter and pauses (GCRA token bucket).

    ``rate`` requests per second with up to ``burst`` at once; ``overrides``
    maps a group to its own ``(rate, burst)``. Each ``wait`` sleeps until its
    turn plus ``jitter * random()`` seconds. ``penalize(group, s)`` makes the
    next request wait at least ``s`` seconds, with no burst after the pause.

        rate = RateLimiter(0.5, burst=2, jitter=1.0, overrides={"youtube": (0.2, 1)})
        await rate.wait(url)             # a URL or a group name: grouped by ``host_group``
        rate.penalize(url, 120.0)        # after a 429 with ``Retry-After: 120``
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        overrides: Mapping[str, tuple[float, int]] | None = None,
        jitter: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._limits = {host_group(k): v for k, v in (overrides or {}).items()}
        for rate_, burst_ in [(rate, burst), *self._limits.values()]:
            if rate_ <= 0 or burst_ < 1:
                raise ValueError(f"rate must be positive and burst at least 1, not {rate_}/{burst_}")
        if jitter < 0:
            raise ValueError(f"jitter must not be negative, not {jitter}")
        self._default = (rate, burst)
        self._jitter, self._clock, self._sleep, self._random = jitter, clock, sleep, random
        self._tat: dict[str, float] = {}  # theoretical arrival time of the next request

    def _params(self, group: str) -> tuple[float, float]:
        rate, burst = self._limits.get(group, self._default)
        return 1.0 / rate, (burst - 1) / rate  # (interval, burst tolerance)

    async def wait(self, group: str) -> float:
        """Wait for ``group``'s next turn (a group name or URL); return the seconds waited."""
        group, now = host_group(group), self._clock()
        interval, tolerance = self._params(group)
        tat = max(self._tat.get(group, now), now)
        delay = max(0.0, tat - tolerance - now) + self._jitter * self._random()
        self._tat[group] = tat + interval  # reserved now, so concurrent waiters queue
        if len(self._tat) > 1024:  # forget groups whose bucket is full again
            self._tat = {g: t for g, t in self._tat.items() if t > now}
        if delay > 0:
            await self._sleep(delay)
        return delay

    def penalize(self, group: str, seconds: float) -> None:
        """Pause ``group`` (after a 429 or bot check): its next request waits ``seconds``."""
        group, now = host_group(group), self._clock()
        _interval, tolerance = self._params(group)
        self._tat[group] = max(self._tat.get(group, now), now + seconds + tolerance)
