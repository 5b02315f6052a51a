"""Waking workers and one-at-a-time jobs on the database: ``JobNotices`` hears a job queued
by another connection at commit (PostgreSQL ``LISTEN/NOTIFY``; SQLite: never, the worker
polls), and ``singleton`` lets one holder in at a time (PostgreSQL advisory locks;
SQLite: always held)."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from preserver.db import queue
from preserver.db.engine import Database
from preserver.db.models import Target, utc_now
from preserver.db.notify import JobNotices
from preserver.db.singleton import singleton


async def _enqueue(db: Database, key: str) -> None:
    async with db.session() as s:
        target = Target(key=key, url=f"https://example.org/{key}", platform="web",
                        created_at=utc_now())
        s.add(target)
        await s.flush()
        assert target.id is not None
        await queue.enqueue(s, target_id=target.id, host="example.org")


async def test_a_queued_job_wakes_a_listener_at_commit(db: Database) -> None:
    notices = JobNotices(db.engine)
    await notices.start()
    stop = asyncio.Event()
    try:
        if not notices.enabled:  # SQLite: nothing to listen to; the wait is the poll
            await _enqueue(db, "web:a")
            started = time.monotonic()
            assert not await notices.wait(0.3, stop)
            assert time.monotonic() - started >= 0.25
            return
        await notices.wait(0, stop)  # the look-once of a fresh listener
        assert not await notices.wait(0.2, stop)  # nothing queued: the timeout
        waiting = asyncio.create_task(notices.wait(30, stop))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        started = time.monotonic()
        await _enqueue(db, "web:b")
        assert await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - started < 2
        assert notices.received == 1
        stop.set()  # a stop ends a wait too
        assert not await notices.wait(30, stop)
    finally:
        await notices.close()


async def test_a_listener_whose_connection_died_listens_again(db: Database) -> None:
    """The server ends the listening connection (a restart, a failover): the next wait
    opens another, looks once, and hears the jobs queued after."""
    notices = JobNotices(db.engine)
    if not notices.enabled:
        pytest.skip("LISTEN is PostgreSQL's")
    await notices.start()
    stop = asyncio.Event()
    try:
        await notices.wait(0, stop)
        pid = notices._driver.get_server_pid()
        async with db.session() as s:
            await s.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.3)
        assert await notices.wait(5, stop)  # listening again: it looks once
        assert notices._driver.get_server_pid() != pid
        waiting = asyncio.create_task(notices.wait(30, stop))
        await asyncio.sleep(0.1)
        await _enqueue(db, "web:c")
        assert await asyncio.wait_for(waiting, 5)
    finally:
        await notices.close()


async def test_one_holder_at_a_time(db: Database) -> None:
    async with singleton(db.engine, "fixity") as first:
        assert first
        async with singleton(db.engine, "fixity") as second, \
                singleton(db.engine, "audit") as other:
            assert other  # another job's lock is its own
            if db.engine.dialect.name == "sqlite":
                assert second
                return
            assert not second
        waiter = asyncio.create_task(_hold(db))
        await asyncio.sleep(0.3)
        assert not waiter.done()  # waits for the first holder
    assert await asyncio.wait_for(waiter, 5)
    async with singleton(db.engine, "fixity") as again:
        assert again  # released, also by the waiter


async def _hold(db: Database) -> bool:
    async with singleton(db.engine, "fixity", wait=True) as held:
        return held


@pytest.mark.parametrize("name", ["checkpoint", "fixity"])
def test_lock_keys_are_stable_and_distinct(name: str) -> None:
    from preserver.db.singleton import lock_key

    assert lock_key(name) == lock_key(name)
    assert lock_key(name) != lock_key(name + "x")
    assert -(2**63) <= lock_key(name) < 2**63


async def test_serve_skips_a_singleton_job_another_process_runs(db: Database) -> None:
    """``serve``'s audit and fixity: run when free; skipped, not queued, while another
    holds the lock (PostgreSQL; on SQLite there is no other machine)."""
    from types import SimpleNamespace
    from typing import cast

    from preserver.archive import Archive
    from preserver.serve import _alone

    ran: list[str] = []

    async def fixity() -> None:
        ran.append("fixity")

    job = _alone(cast(Archive, SimpleNamespace(db=db)), "fixity", fixity)
    await job()
    assert ran == ["fixity"]
    async with singleton(db.engine, "fixity") as held:
        assert held
        await job()
    assert ran == ["fixity"] * (2 if db.engine.dialect.name == "sqlite" else 1)
    await job()
    assert len(ran) == (3 if db.engine.dialect.name == "sqlite" else 2)
