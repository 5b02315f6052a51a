"""Capture runs (``preserver.db.runs``) and ``queue.requeue_dead_runs``: the jobs of a run
known dead go back to the queue at once; those of a run that may be alive stay.

Real SQLite (and PostgreSQL when configured); the processes are this test's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import cast

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from preserver.archive import Archive
from preserver.capture.run import CaptureWorker
from preserver.db import queue, runs
from preserver.db.engine import Database
from preserver.db.models import Job, JobState, Run, Target, utc_now

ME = runs.this_process()


async def _claimed_by(db: Database, who: runs.RunIdentity, *, heartbeat: datetime | None = None,
                      ended: bool = False) -> tuple[str, int]:
    """A run of ``who`` holding one claimed job: (run id, job id)."""
    async with db.session() as s:
        run_id = await runs.start_run(s, who)
        target = Target(key=f"web:{run_id}", url=f"https://example.org/{run_id}", platform="web",
                        created_at=utc_now())
        s.add(target)
        await s.flush()
        assert target.id is not None
        await queue.enqueue(s, target_id=target.id, host=run_id)
    async with db.session() as s:
        claimed = await queue.claim(s, run_id=run_id, exclude_hosts=frozenset())
        assert claimed is not None
        run = await s.get_one(Run, run_id)
        if heartbeat is not None:
            run.heartbeat_at = heartbeat
        if ended:
            await runs.end_run(s, run_id)
    return run_id, claimed.id


async def _states(db: Database) -> dict[int, str]:
    async with db.session() as s:
        return {j.id: j.state for j in (await s.scalars(sa.select(Job))).all()
                if j.id is not None}


def _a_gone_pid() -> int:
    with subprocess.Popen(["true"]) as child:
        pass  # waited for and reaped: its pid names no process now
    return child.pid


async def test_the_jobs_of_a_gone_process_are_requeued_at_once(db: Database) -> None:
    gone = _a_gone_pid()
    dead = dataclasses.replace(ME, pid=gone)
    dead_run, dead_job = await _claimed_by(db, dead)
    _, live_job = await _claimed_by(db, ME)
    async with db.session() as s:
        found = await queue.requeue_dead_runs(s, me=ME)
    assert found == [queue.DeadRun(run_id=dead_run, label=f"{ME.host}:{gone}",
                                   reason="no longer running", job_ids=(dead_job,))]
    assert await _states(db) == {dead_job: "queued", live_job: "running"}
    async with db.session() as s:  # once: a second look finds nothing more
        assert await queue.requeue_dead_runs(s, me=ME) == []
        job = await s.get_one(Job, dead_job)
        assert job.last_error == (f"interrupted: run {ME.host}:{gone} no longer running; "
                                  "requeued")


@pytest.mark.skipif(not ME.machine, reason="needs /proc to tell a process's start time")
async def test_a_reused_pid_is_not_the_run_that_had_it(db: Database) -> None:
    assert ME.process_start is not None
    earlier = dataclasses.replace(ME, process_start=ME.process_start - 1)  # our pid, another process
    _, job = await _claimed_by(db, earlier)
    async with db.session() as s:
        [found] = await queue.requeue_dead_runs(s, me=ME)
    assert found.job_ids == (job,) and found.reason == "no longer running"


async def test_another_machines_run_is_dead_when_its_lease_has_lapsed(db: Database) -> None:
    elsewhere = dataclasses.replace(ME, host="other-host", machine="other-boot/1", pid=1)
    now = utc_now()
    _, fresh = await _claimed_by(db, elsewhere, heartbeat=now - timedelta(seconds=40))
    _, lapsed = await _claimed_by(db, elsewhere, heartbeat=now - runs.LEASE - timedelta(seconds=1))
    async with db.session() as s:
        [found] = await queue.requeue_dead_runs(s, me=ME, now=now)
    assert found.job_ids == (lapsed,) and found.label == "other-host:1"
    assert found.reason.startswith("no heartbeat for ")
    assert await _states(db) == {fresh: "running", lapsed: "queued"}


async def test_a_run_that_ended_with_jobs_running_left_them(db: Database) -> None:
    _, job = await _claimed_by(db, ME, ended=True)  # e.g. its database write failed
    async with db.session() as s:
        [found] = await queue.requeue_dead_runs(s, me=ME)
    assert found.job_ids == (job,) and found.reason == "ended without recording them"


async def test_a_run_that_claimed_nothing_is_forgotten(db: Database) -> None:
    async with db.session() as s:
        run_id = await runs.start_run(s, ME)
    async with db.session() as s:
        await runs.end_run(s, run_id)
    async with db.session() as s:
        assert await s.get(Run, run_id) is None


async def test_a_run_that_counted_no_claim_keeps_its_row_while_a_job_names_it(
        db: Database) -> None:
    """A claim may commit and the run be cancelled before it counts the job: the run's
    row stays (ended), so the job is requeued, not left running for ever."""
    run_id, job = await _claimed_by(db, ME)
    async with db.session() as s:
        await runs.end_run(s, run_id)
    async with db.session() as s:
        assert (await s.get_one(Run, run_id)).ended_at is not None
        [found] = await queue.requeue_dead_runs(s, me=ME)
    assert found.job_ids == (job,) and found.reason == "ended without recording them"


async def test_a_running_job_whose_run_left_no_row_is_requeued(db: Database) -> None:
    run_id, job = await _claimed_by(db, ME)
    async with db.session() as s:  # as an earlier end_run did, forgetting a run that claimed
        await s.execute(sa.delete(Run).where(col(Run.id) == run_id))
    async with db.session() as s:
        found = await queue.requeue_dead_runs(s, me=ME)
    assert found == [queue.DeadRun(run_id=run_id, label=run_id, reason="left no record",
                                   job_ids=(job,))]
    assert await _states(db) == {job: "queued"}


async def test_finishing_another_runs_job_changes_nothing(db: Database) -> None:
    """A run cut off while its job was requeued and claimed again must not overwrite the
    new claimant's result."""
    _, job = await _claimed_by(db, ME)
    async with db.session() as s:
        assert not await queue.finish(s, job, state=JobState.DONE, run_id="another-run")
    assert await _states(db) == {job: "running"}
    async with db.session() as s:
        assert await queue.finish(s, job, state=JobState.DONE)  # no run named: as before
    assert await _states(db) == {job: "done"}


async def test_a_requeued_job_is_no_longer_its_old_runs_to_finish(db: Database) -> None:
    run_id, job = await _claimed_by(db, ME, ended=True)
    async with db.session() as s:
        await queue.requeue_dead_runs(s, me=ME)
        assert not await queue.finish(s, job, state=JobState.DONE, run_id=run_id)
    assert await _states(db) == {job: "queued"}


async def test_the_lease_is_read_in_the_databases_clock(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine whose clock runs an hour ahead does not take a live run for dead."""
    elsewhere = dataclasses.replace(ME, host="other-host", machine="other-boot/1", pid=1)
    _, job = await _claimed_by(db, elsewhere)
    async with db.session() as s:
        before = await runs.db_now(s)
    ahead = before + timedelta(hours=1)
    monkeypatch.setattr(queue, "utc_now", lambda: ahead)
    monkeypatch.setattr(runs, "utc_now", lambda: ahead)
    async with db.session() as s:
        run_id = await runs.start_run(s, elsewhere)
    async with db.session() as s:
        await runs.heartbeat(s, run_id)
    async with db.session() as s:
        assert await queue.requeue_dead_runs(s, me=ME) == []
        run = await s.get_one(Run, run_id)
    assert run.heartbeat_at < ahead - timedelta(minutes=30)  # the database's time, not ours
    assert await _states(db) == {job: "running"}


async def test_the_heartbeat_outlives_a_database_that_refuses_connections(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """asyncpg raises a bare OSError while the server restarts: the next beat goes on."""
    async with db.session() as s:
        run_id = await runs.start_run(s, ME)
    beats: list[str] = []
    renewed = asyncio.Event()
    real = runs.heartbeat

    async def flaky(session: AsyncSession, beat_run: str) -> None:
        beats.append(beat_run)
        if len(beats) == 1:
            raise ConnectionRefusedError(111, "Connect call failed")
        await real(session, beat_run)
        renewed.set()

    monkeypatch.setattr(runs, "heartbeat", flaky)
    monkeypatch.setattr(runs, "HEARTBEAT", timedelta(0))
    worker = CaptureWorker.__new__(CaptureWorker)
    worker.archive, worker.run_id = cast(Archive, SimpleNamespace(db=db)), run_id
    worker.lease = timedelta(minutes=2)
    beat = asyncio.create_task(worker._heartbeat())
    waiter = asyncio.create_task(renewed.wait())
    await asyncio.wait({beat, waiter}, return_when=asyncio.FIRST_COMPLETED)
    try:
        assert not beat.done(), beat.exception()
        assert renewed.is_set() and beats[:2] == [run_id, run_id]
    finally:
        beat.cancel()
        waiter.cancel()
        await asyncio.gather(beat, waiter, return_exceptions=True)
