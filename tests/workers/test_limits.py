"""HostLimiter: a global semaphore plus one per host group."""

from __future__ import annotations

import asyncio

import pytest

from workers.limits import HostLimiter, host_group


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
