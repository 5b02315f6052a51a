from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from preserver.db import queue
from preserver.db.engine import Database, session_reader
from preserver.db.models import Job, JobState, Target, utc_now
from preserver.views.counts import job_counts


async def _target(db: Database, key: str) -> int:
    async with db.session() as s:
        t = Target(key=key, url=f"https://example.org/{key}", platform="web", created_at=utc_now())
        s.add(t)
        await s.flush()
        assert t.id is not None
        return t.id


async def test_enqueue_is_idempotent_while_a_job_waits(db: Database) -> None:
    tid = await _target(db, "web:a")
    async with db.session() as s:
        assert await queue.enqueue(s, target_id=tid, host="example.org") is True
    async with db.session() as s:
        assert await queue.enqueue(s, target_id=tid, host="example.org") is False
        assert (await job_counts(session_reader(s))) == {"queued": 1}


async def test_claim_order_priority_then_age_and_scheduled_time(db: Database) -> None:
    ids = [await _target(db, f"web:{i}") for i in range(3)]
    async with db.session() as s:
        await queue.enqueue(s, target_id=ids[0], host="h")
        await queue.enqueue(s, target_id=ids[1], host="h", priority=5)
        await queue.enqueue(s, target_id=ids[2], host="h")
    async with db.session() as s:  # the third is scheduled later
        job = await s.get_one(Job, 3)
        job.run_after = utc_now() + timedelta(hours=1)
    claimed = []
    for _ in range(3):
        async with db.session() as s:
            claimed.append(await queue.claim(s))
    assert [c.target_id if c else None for c in claimed] == [ids[1], ids[0], None]
    assert claimed[0] is not None and claimed[0].attempts == 1
    async with db.session() as s:
        assert await queue.next_due(s) is not None


async def test_claim_skips_busy_hosts(db: Database) -> None:
    a, b = await _target(db, "youtube:aaaaaaaaaaa"), await _target(db, "web:b")
    async with db.session() as s:
        await queue.enqueue(s, target_id=a, host="youtube")
        await queue.enqueue(s, target_id=b, host="example.org")
    async with db.session() as s:
        got = await queue.claim(s, exclude_hosts=frozenset({"youtube"}))
    assert got is not None and got.host == "example.org"
    async with db.session() as s:
        assert await queue.claim(s, exclude_hosts=frozenset({"youtube"})) is None


async def test_no_double_claim_under_concurrency(db: Database) -> None:
    ids = [await _target(db, f"web:{i}") for i in range(20)]
    async with db.session() as s:
        for tid in ids:
            await queue.enqueue(s, target_id=tid, host="h")

    async def worker() -> list[int]:
        got = []
        while True:
            async with db.session() as s:
                job = await queue.claim(s)
            if job is None:
                return got
            got.append(job.id)
            await asyncio.sleep(0)

    results = await asyncio.gather(*(worker() for _ in range(6)))
    claimed = [j for r in results for j in r]
    assert sorted(claimed) == list(range(1, 21))


async def test_finish_retry_and_release(db: Database) -> None:
    tid = await _target(db, "web:r")
    async with db.session() as s:
        await queue.enqueue(s, target_id=tid, host="h")
    async with db.session() as s:
        job = await queue.claim(s)
        assert job is not None
        await queue.finish(s, job.id, state="retry", error="network down", retry_in=3600)
    async with db.session() as s:
        assert await queue.claim(s) is None
        assert await queue.release_retries(s, due_only=True) == 0
        assert await queue.release_retries(s, due_only=False) == 1
    async with db.session() as s:
        again = await queue.claim(s)
    assert again is not None and again.attempts == 2


async def test_requeue_stale_running_jobs(db: Database) -> None:
    tid = await _target(db, "web:s")
    async with db.session() as s:
        await queue.enqueue(s, target_id=tid, host="h")
    async with db.session() as s:
        claimed = await queue.claim(s)
        assert claimed is not None
        assert await queue.requeue_stale(s, older_than=timedelta(hours=2)) == 0
        job = await s.get_one(Job, claimed.id)
        job.claimed_at = utc_now() - timedelta(hours=3)
    async with db.session() as s:
        assert await queue.requeue_stale(s, older_than=timedelta(hours=2)) == 1
        assert (await job_counts(session_reader(s))) == {"queued": 1}


async def test_job_states_are_stored_as_their_plain_strings(db: Database) -> None:
    """``JobState`` members go into ``jobs.state`` as the strings the column always held."""
    tid = await _target(db, "web:p")
    seen: list[object] = []

    async def state() -> None:
        async with db.session() as s:
            seen.append((await s.execute(sa.text("SELECT state FROM jobs"))).scalar_one())

    async with db.session() as s:
        await queue.enqueue(s, target_id=tid, host="h")
    await state()
    for then in (JobState.RETRY, JobState.DONE):
        async with db.session() as s:
            job = await queue.claim(s)
        await state()
        assert job is not None
        async with db.session() as s:
            await queue.finish(s, job.id, state=then)
        await state()
        async with db.session() as s:
            await queue.release_retries(s, due_only=False)
        await state()
    assert seen == ["queued", "running", "retry", "queued", "running", "done", "done"]
    assert all(type(value) is str for value in seen)


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:////nonexistent-dir/x/preserver.db",
                                 "nosuchdriver://x"])
async def test_unusable_database_is_a_run_error(url: str) -> None:
    from preserver.errors import RunError

    with pytest.raises(RunError, match="database"):
        await Database.open(url)
