"""HostLimiter (a global semaphore plus one per host group) and RateLimiter (requests per
second per group), the latter on a fake clock."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.support.clock import FakeClock
from workers.limits import HostLimiter, RateLimiter, host_group


@pytest.mark.parametrize(
    ("url", "group"),
    [
        ("https://www.youtube.com/watch?v=45WIwFETn3E", "youtube"),
        ("https://youtu.be/45WIwFETn3E", "youtube"),
        ("https://m.youtube.com/shorts/45WIwFETn3E", "youtube"),
        ("https://rr3---sn-abc.googlevideo.com/videoplayback?x=1", "youtube"),
        ("https://www.youtube-nocookie.com/embed/45WIwFETn3E", "youtube"),
        ("https://www.facebook.com/watch?v=1", "facebook"),
        ("https://fb.watch/abc/", "facebook"),
        ("https://video.xx.fbcdn.net/v/t42/1.mp4", "facebook"),
        ("https://Example.ORG./a?b", "example.org"),
        ("http://127.0.0.1:8080/x", "127.0.0.1"),
        ("http://[::1]:8080/x", "::1"),
        ("notyoutube.com", "notyoutube.com"),
        ("youtube.com.evil.example", "youtube.com.evil.example"),
        ("www.youtube.com", "youtube"),
        ("example.org:8443", "example.org"),
        ("http://[::1", "http://[::1"),
    ],
)
def test_host_group(url: str, group: str) -> None:
    assert host_group(url) == group


async def _peak(limiter: HostLimiter, hosts: list[str]) -> dict[str, int]:
    """Run one short task per host; return the peak concurrency per group and overall."""
    running: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def job(host: str) -> None:
        group = host_group(host)
        async with limiter.slot(host):
            for key in (group, "*"):
                running[key] = running.get(key, 0) + 1
                peak[key] = max(peak.get(key, 0), running[key])
            await asyncio.sleep(0.01)
            for key in (group, "*"):
                running[key] -= 1

    await asyncio.gather(*(job(h) for h in hosts))
    return peak


async def test_per_host_and_global_limits() -> None:
    limiter = HostLimiter(global_limit=3, per_host=2)
    hosts = ["https://youtu.be/a", "https://www.youtube.com/b", "https://youtu.be/c"] * 3
    hosts += ["https://a.example/1", "https://b.example/2", "https://c.example/3"]
    peak = await _peak(limiter, hosts)
    assert peak["youtube"] == 2
    assert peak["*"] == 3


async def test_overrides_by_group() -> None:
    limiter = HostLimiter(global_limit=10, per_host=1, overrides={"https://youtu.be/": 3})
    peak = await _peak(limiter, ["https://youtu.be/x"] * 6 + ["https://example.org/"] * 3)
    assert peak["youtube"] == 3
    assert peak["example.org"] == 1
    assert limiter.limit_for("youtube") == 3


async def test_entries_are_dropped_when_unused() -> None:
    limiter = HostLimiter(global_limit=2, per_host=1)
    await _peak(limiter, [f"https://h{i}.example/" for i in range(20)])
    assert limiter._hosts == {}


async def test_waiting_on_a_busy_host_holds_no_global_slot() -> None:
    limiter = HostLimiter(global_limit=2, per_host=1)
    release = asyncio.Event()
    order: list[str] = []

    async def hold(host: str, name: str) -> None:
        async with limiter.slot(host):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(hold("https://youtu.be/1", "yt1"))
    waiter = asyncio.create_task(hold("https://youtu.be/2", "yt2"))  # blocks on the host
    await asyncio.sleep(0.01)
    other = asyncio.create_task(hold("https://example.org/", "web"))  # gets the 2nd global slot
    await asyncio.sleep(0.01)
    assert order == ["yt1", "web"]
    release.set()
    await asyncio.gather(first, waiter, other)
    assert order == ["yt1", "web", "yt2"]


async def test_a_cancelled_waiter_releases_its_entry() -> None:
    limiter = HostLimiter(global_limit=1, per_host=1)
    async with limiter.slot("example.org"):
        task = asyncio.create_task(limiter.slot("example.org").__aenter__())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError, match="^$"):
            await task
    assert limiter._hosts == {}


@pytest.mark.parametrize("kwargs", [{"global_limit": 0, "per_host": 1},
                                    {"global_limit": 1, "per_host": 0},
                                    {"global_limit": 1, "per_host": 1, "overrides": {"x": 0}}])
def test_limits_must_be_positive(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HostLimiter(**kwargs)  # type: ignore[arg-type]


# -- RateLimiter -----------------------------------------------------------------------------


async def test_rate_is_honoured() -> None:
    clock = FakeClock()
    rate = RateLimiter(2.0, burst=3, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(6):
        await rate.wait("https://www.youtube.com/watch?v=x")
        times.append(clock.now)

    assert times == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5]
    await rate.wait("example.org")  # another host group is not held up
    assert clock.now == 1.5


async def test_concurrent_waiters_queue() -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    rate = RateLimiter(4.0, clock=clock, sleep=record)
    got = [await rate.wait("youtu.be") for _ in range(3)]  # the clock stands still

    assert got == [0.0, 0.25, 0.5]
    assert slept == [0.25, 0.5]


async def test_overrides_per_group() -> None:
    clock = FakeClock()
    rate = RateLimiter(1.0, overrides={"youtube.com": (0.1, 1)}, clock=clock, sleep=clock.sleep)
    await rate.wait("youtube")

    assert await rate.wait("https://m.youtube.com/watch?v=x") == pytest.approx(10.0)
    assert await rate.wait("example.org") == 0.0


async def test_jitter_bounds() -> None:
    clock = FakeClock()
    rate = RateLimiter(1000.0, burst=1000, jitter=1.5, clock=clock, sleep=clock.sleep,
                       random=random.Random(7).random)

    delays = [await rate.wait("example.org") for _ in range(200)]

    assert all(0.0 <= d < 1.5 for d in delays)
    assert min(delays) < 0.2 and max(delays) > 1.3


async def test_penalize_backs_off_without_a_burst_after() -> None:
    clock = FakeClock()
    rate = RateLimiter(2.0, burst=3, clock=clock, sleep=clock.sleep)
    await rate.wait("youtube")
    rate.penalize("https://youtu.be/x", 30.0)
    times = []
    for _ in range(3):
        await rate.wait("youtube")
        times.append(clock.now)

    assert times == [30.0, 30.5, 31.0]
    rate.penalize("youtube", 5.0)  # counted from now
    rate.penalize("youtube", 1.0)  # a shorter pause does not shorten the longer one
    await rate.wait("youtube")
    assert clock.now == 36.0


@pytest.mark.parametrize(("args", "match"), [
    ((0.0,), "rate must be positive"),
    ((1.0, 0), "burst at least 1"),
])
def test_bad_limits(args: tuple[float, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RateLimiter(*args)  # type: ignore[arg-type]


def test_negative_jitter() -> None:
    with pytest.raises(ValueError, match="jitter must not be negative"):
        RateLimiter(1.0, jitter=-1.0)

