"""Leases and fencing on the job queue (many workers on one database), on SQLite and, when
PRESERVER_TEST_POSTGRES_URL is set, PostgreSQL: a claim holds a lease; a job whose lease
passed is taken over, as one more attempt; the first claimant can then neither finish it
nor record a capture for it; renewals extend only the renewing run's jobs; the per-host
limit counts every run's live claims."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from preserver.archive import open_archive
from preserver.capture.record import JobRecord, record_result
from preserver.config import load_config
from preserver.db import queue, runs
from preserver.db.engine import Database
from preserver.db.models import Capture, Event, Job, JobState, Target, utc_now
from workers import CaptureResult, CaptureState, Status

LEASE = timedelta(seconds=60)


async def _jobs(db: Database, *hosts: str) -> list[int]:
    ids = []
    async with db.session() as s:
        for n, host in enumerate(hosts):
            target = Target(key=f"web:{host}/{n}", url=f"https://{host}/{n}", platform="web",
                            created_at=utc_now())
            s.add(target)
            await s.flush()
            assert target.id is not None
            await queue.enqueue(s, target_id=target.id, host=host)
            ids.append(target.id)
    return ids


async def _expire(db: Database, job_id: int) -> None:
    """The lease passes (as it would, unrenewed, after LEASE)."""
    async with db.session() as s:
        await s.execute(sa.update(Job).where(Job.id == job_id)  # type: ignore[arg-type]
                        .values(lease_until=utc_now() - timedelta(seconds=5)))


async def _claim(db: Database, run_id: str, **kw: object) -> queue.ClaimedJob | None:
    async with db.session() as s:
        return await queue.claim(s, run_id=run_id, lease=LEASE, **kw)  # type: ignore[arg-type]


async def test_a_live_lease_keeps_the_job_and_an_expired_one_is_taken_over(db: Database) -> None:
    await _jobs(db, "h")
    first = await _claim(db, "run-a")
    assert first is not None and first.attempts == 1 and first.taken_over is None
    async with db.session() as s:
        job = await s.get_one(Job, first.id)
        assert job.lease_until is not None and job.lease_until > utc_now() + LEASE / 2
    assert await _claim(db, "run-b") is None  # live: not another's
    await _expire(db, first.id)
    second = await _claim(db, "run-b")
    assert second is not None and second.id == first.id
    assert second.attempts == 2 and second.taken_over == "run-a"
    assert await _claim(db, "run-c") is None  # run-b's lease is live


async def test_the_attempt_fences_the_claimant_that_lost_the_job(db: Database) -> None:
    await _jobs(db, "h")
    first = await _claim(db, "run-a")
    assert first is not None
    await _expire(db, first.id)
    second = await _claim(db, "run-b")
    assert second is not None
    async with db.session() as s:  # the stalled first claimant wakes and tries to finish
        assert not await queue.finish(s, first.id, state=JobState.DONE, run_id="run-a",
                                      attempt=first.attempts)
        # a token of the right run but an old attempt is refused too
        assert not await queue.finish(s, first.id, state=JobState.DONE, run_id="run-b",
                                      attempt=first.attempts)
    async with db.session() as s:
        job = await s.get_one(Job, first.id)
        assert (job.state, job.run_id, job.attempts) == (JobState.RUNNING, "run-b", 2)
        assert await queue.finish(s, first.id, state=JobState.DONE, run_id="run-b",
                                  attempt=second.attempts)
    async with db.session() as s:
        job = await s.get_one(Job, first.id)
        assert job.state == JobState.DONE and job.lease_until is None


async def test_renewal_extends_only_the_runs_own_jobs(db: Database) -> None:
    await _jobs(db, "h", "h", "g")
    mine, other = await _claim(db, "run-a"), await _claim(db, "run-b")
    assert mine is not None and other is not None
    await _expire(db, mine.id)
    await _expire(db, other.id)
    async with db.session() as s:
        assert await queue.renew_leases(s, "run-a", LEASE) == 1
    # the third job, still queued, and run-b's, not renewed; never run-a's
    got = [await _claim(db, "run-c") for _ in range(3)]
    assert got[2] is None
    assert {c.id for c in got if c is not None} == {other.id, 3}
    assert [c.taken_over for c in got if c is not None and c.id == other.id] == ["run-b"]


async def test_the_per_host_limit_counts_every_runs_live_claims(db: Database) -> None:
    await _jobs(db, "h", "h", "g")
    held = await _claim(db, "run-a", host_limit=1)
    assert held is not None and held.host == "h"
    other = await _claim(db, "run-b", host_limit=1)
    assert other is not None and other.host == "g"  # h is full, whoever holds it
    assert await _claim(db, "run-b", host_limit=1) is None
    await _expire(db, held.id)  # a lease that passed holds no slot: taken over
    again = await _claim(db, "run-b", host_limit=1)
    assert again is not None and again.id == held.id
    assert await _claim(db, "run-c", host_limit=2) is not None  # room for the second h


async def test_a_stalled_worker_records_no_capture_once_taken_over(
        db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """record_result of the run that lost its lease: refused and logged, no capture row,
    no custody event; the new claimant records its own."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'data_dir = "archive"\ndatabase_url = "{db_url}"\n', encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as archive:
        [target] = await _jobs(archive.db, "example.org")
        async with archive.db.session() as s:
            run_a = await runs.start_run(s, runs.this_process())
            run_b = await runs.start_run(s, runs.this_process())
        first = await _claim(archive.db, run_a)
        assert first is not None
        await _expire(archive.db, first.id)
        second = await _claim(archive.db, run_b)
        assert second is not None
        result = CaptureResult(state=CaptureState.COMPLETE, status=Status.AVAILABLE, message="",
                               started_at="2026-11-27T01:00:00.000000Z",
                               finished_at="2026-11-27T01:00:01.000000Z")

        def record(claimed: queue.ClaimedJob, run_id: str) -> JobRecord:
            return JobRecord(job_id=claimed.id, target_id=target, target_key=claimed.target_key,
                             url=claimed.url, platform=claimed.platform, run_id=run_id,
                             attempt=claimed.attempts)

        with caplog.at_level(logging.WARNING, logger="preserver.capture.record"):
            assert await record_result(archive, record(first, run_a), result,
                                       retry_in=None) is None
        assert "refused" in caplog.text and f"attempt {first.attempts}" in caplog.text
        async with archive.db.session() as s:
            assert (await s.scalar(sa.select(sa.func.count()).select_from(Capture))) == 0
            assert (await s.scalar(sa.select(sa.func.count()).select_from(Event).where(
                Event.action == "capture_stored"))) == 0  # type: ignore[arg-type]
        kept = await record_result(archive, record(second, run_b), result, retry_in=None)
        assert kept is not None
        async with archive.db.session() as s:
            [capture] = (await s.scalars(sa.select(Capture))).all()
            assert capture.manifest_sha256 == kept
            assert (await s.get_one(Job, first.id)).state == JobState.DONE
