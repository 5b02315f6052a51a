"""Capture runs (``preserver.db.runs``) and ``queue.requeue_dead_runs``: the jobs of a run
known dead go back to the queue at once; those of a run that may be alive stay.

Real SQLite (and PostgreSQL when configured); the processes are this test's own.
"""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from preserver.db import queue, runs
from preserver.db.engine import Database
from preserver.db.models import Job, Run, Target, utc_now

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
            await runs.end_run(s, run_id, claimed=True)
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
        await runs.end_run(s, run_id, claimed=False)
    async with db.session() as s:
        assert await s.get(Run, run_id) is None
