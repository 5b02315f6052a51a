"""The job queue: every named job operation, in one place.

States (``JobState``): ``queued`` (waiting; ``run_after`` says from when), ``running``
(claimed by a worker), ``retry`` (failed transiently, to be tried again after
``run_after``), ``done``, ``failed`` (permanently, or out of attempts).

The claim is one atomic statement, ``UPDATE … WHERE id = (SELECT … LIMIT 1)
RETURNING``, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never
claim the same job.

Leases and fencing (many workers on one database: docs/design.md "Job queue and many
workers"): a claim with ``lease`` sets ``lease_until`` (the database's clock on
PostgreSQL), which the run renews while it works (``renew_leases``). A ``running`` job
whose lease has passed is due again: the next claim takes it over, counting one more attempt. The attempt number
is the fencing token: ``finish`` with ``run_id`` and ``attempt`` changes the job only
while both are still the ones that claimed it, so a worker that stalled past its lease
and lost the job can record nothing (``preserver.capture.record`` writes everything of
a result in that one transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from preserver.db.models import Job, JobState, Run, Target, core_table, utc_now
from preserver.db.runs import RunIdentity, db_now, dead_reason
from preserver.db.values import CAPTURE
from preserver.db.values import WITNESS as WITNESS  # noqa: PLC0414  (queue.WITNESS)

CHUNK = 500  # ids per IN (...) list, well under SQLite's bound on parameters
# The core table behind ``Job``, for the set-based statements below. SQLModel creates
# ``__table__`` at class creation but does not declare it, so mypy cannot see it.
_JOBS = core_table(Job)


@dataclass(frozen=True, kw_only=True)
class ClaimedJob:
    id: int
    kind: str
    target_id: int
    target_key: str
    url: str
    platform: str
    host: str
    attempts: int  # this claim's attempt number: the fencing token (``finish``)
    taken_over: str | None = None  # the run whose lease on the job had expired


async def enqueue(
    session: AsyncSession, *, target_id: int, host: str, kind: str = CAPTURE, priority: int = 0
) -> bool:
    """Queue a job for the target unless one is already waiting or running. True when queued."""
    existing = await session.scalar(
        select(Job.id).where(
            col(Job.target_id) == target_id,
            col(Job.kind) == kind,
            col(Job.state).in_((JobState.QUEUED, JobState.RUNNING, JobState.RETRY)),
        )
    )
    if existing is not None:
        return False
    add_job(session, target_id=target_id, host=host, kind=kind, priority=priority)
    return True


def add_job(
    session: AsyncSession, *, target_id: int, host: str, kind: str = CAPTURE, priority: int = 0
) -> None:
    """Queue a job for a target known to have none waiting (one just created)."""
    now = utc_now()
    session.add(Job(kind=kind, target_id=target_id, host=host, priority=priority, run_after=now,
                    created_at=now, updated_at=now))


async def enqueue_many(
    session: AsyncSession, hosts: Mapping[int, str], *, kind: str = CAPTURE
) -> int:
    """``enqueue`` for many targets (target id -> host) in a few statements: a job for
    each that has none waiting or running. Returns how many were queued."""
    waiting: set[int] = set()
    ids = list(hosts)
    for start in range(0, len(ids), CHUNK):
        waiting.update(await session.scalars(
            sa.select(_JOBS.c.target_id).where(
                _JOBS.c.target_id.in_(ids[start:start + CHUNK]), _JOBS.c.kind == kind,
                _JOBS.c.state.in_((JobState.QUEUED, JobState.RUNNING, JobState.RETRY)))))
    fresh = {target_id: host for target_id, host in hosts.items() if target_id not in waiting}
    await add_jobs(session, fresh, kind=kind)
    return len(fresh)


async def add_jobs(
    session: AsyncSession, hosts: Mapping[int, str], *, kind: str = CAPTURE, priority: int = 0
) -> None:
    """``add_job`` for many targets known to have none waiting (target id -> host): one
    INSERT of many rows, no ORM objects."""
    if not hosts:
        return
    now = utc_now()
    await session.execute(sa.insert(_JOBS), [
        {"kind": kind, "target_id": target_id, "host": host, "priority": priority,
         "run_after": now, "created_at": now, "updated_at": now}
        for target_id, host in hosts.items()])


# last_error of a job taken over from a run whose lease expired (``claim``)
TAKEN_OVER = "lease expired: taken over from run "


def _postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def lease_clock(session: AsyncSession) -> sa.ColumnElement[datetime]:
    """The clock leases are written and compared in: the database's on PostgreSQL (the
    machines' clocks need not agree), this process's on SQLite (one machine)."""
    if _postgres(session):
        return sa.func.now()
    return sa.literal(utc_now(), type_=_JOBS.c.lease_until.type)


def _lease_end(session: AsyncSession, lease: timedelta) -> sa.ColumnElement[datetime]:
    """``lease`` from now, in ``lease_clock``."""
    if _postgres(session):
        return sa.func.now() + lease
    return sa.literal(utc_now() + lease, type_=_JOBS.c.lease_until.type)


async def claim(
    session: AsyncSession, *, exclude_hosts: frozenset[str] = frozenset(),
    now: datetime | None = None, run_id: str | None = None, kind: str = CAPTURE,
    lease: timedelta | None = None, host_limit: int | None = None,
) -> ClaimedJob | None:
    """Atomically take the next due job of ``kind`` (highest priority, then oldest),
    skipping busy hosts, for the run ``run_id`` (``preserver.db.runs``).

    ``lease``: the claim holds the job that long (``renew_leases`` extends it), and a
    ``running`` job whose lease has passed is due too: it is taken over. ``host_limit``:
    a host with that many jobs running under a live lease, whoever runs them, is busy
    (the per-host limit across all workers; two workers claiming in the same instant may
    each see one slot left)."""
    now = now or utc_now()
    jobs = _JOBS
    clock = lease_clock(session)
    due = sa.and_(jobs.c.state == JobState.QUEUED, jobs.c.run_after <= now)
    if lease is not None:
        due = sa.or_(due, sa.and_(jobs.c.state == JobState.RUNNING,
                                  jobs.c.lease_until.is_not(None), jobs.c.lease_until < clock))
    pick = (
        sa.select(jobs.c.id)
        .where(due, jobs.c.kind == kind)
        .order_by(jobs.c.priority.desc(), jobs.c.run_after, jobs.c.id)
        .limit(1)
    )
    if exclude_hosts:
        pick = pick.where(jobs.c.host.not_in(sorted(exclude_hosts)))
    if host_limit is not None:
        busy = jobs.alias("busy")
        full = (sa.select(busy.c.host)
                .where(busy.c.state == JobState.RUNNING, busy.c.lease_until >= clock)
                .group_by(busy.c.host).having(sa.func.count() >= host_limit))
        pick = pick.where(jobs.c.host.not_in(full))
    if _postgres(session):
        pick = pick.with_for_update(skip_locked=True)
    taken_over = sa.case(
        (jobs.c.state == JobState.RUNNING,
         sa.literal(TAKEN_OVER) + sa.func.coalesce(jobs.c.run_id, "?")),
        else_=jobs.c.last_error)
    stmt = (
        sa.update(jobs)
        .where(jobs.c.id == pick.scalar_subquery(), due)
        .values(state=JobState.RUNNING, claimed_at=now, updated_at=now, run_id=run_id,
                attempts=jobs.c.attempts + 1, last_error=taken_over,
                lease_until=None if lease is None else _lease_end(session, lease))
        .returning(jobs.c.id, jobs.c.kind, jobs.c.target_id, jobs.c.host, jobs.c.attempts,
                   jobs.c.last_error)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    target = await session.get_one(Target, row.target_id)
    error = row.last_error or ""
    return ClaimedJob(id=row.id, kind=row.kind, target_id=row.target_id, target_key=target.key,
                      url=target.url, platform=target.platform, host=row.host,
                      attempts=row.attempts,
                      taken_over=error.removeprefix(TAKEN_OVER)
                      if error.startswith(TAKEN_OVER) else None)


async def renew_leases(session: AsyncSession, run_id: str, lease: timedelta) -> int:
    """Extend the lease of every job run ``run_id`` still holds; returns how many. A job
    taken over by another run is no longer this run's, and stays the other's."""
    result = await session.execute(
        sa.update(_JOBS).where(_JOBS.c.run_id == run_id, _JOBS.c.state == JobState.RUNNING)
        .values(lease_until=_lease_end(session, lease)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def lease_ends(session: AsyncSession, *, kind: str = CAPTURE) -> datetime | None:
    """When the first lease of a running job of ``kind`` ends (then it may be taken over)."""
    ends: datetime | None = await session.scalar(
        sa.select(sa.func.min(_JOBS.c.lease_until))
        .where(_JOBS.c.state == JobState.RUNNING, _JOBS.c.kind == kind))
    return ends


async def finish(session: AsyncSession, job_id: int, *, state: JobState, error: str | None = None,
                 retry_in: float | None = None, run_id: str | None = None,
                 attempt: int | None = None) -> bool:
    """Close a claimed job: ``done``, ``failed``; or ``queued`` (again, within this run) or
    ``retry`` (by a later run) from ``retry_in`` seconds on.

    With ``run_id``, only while that run still holds the job, and with ``attempt`` (the
    fencing token: ``ClaimedJob.attempts``) only while the job is still at that attempt:
    a run that was paused, cut off or stalled past its lease, whose job another run
    requeued or took over, must not overwrite that run's result. False when the job was
    not this claim's to close (nothing changed); without ``run_id``, always True."""
    now = utc_now()
    values: dict[str, object] = {"state": state, "updated_at": now, "last_error": error,
                                 "lease_until": None}
    if state in (JobState.QUEUED, JobState.RETRY):
        values["run_after"] = now + timedelta(seconds=retry_in or 0)
    stmt = sa.update(_JOBS).where(_JOBS.c.id == job_id)
    if run_id is not None:
        stmt = stmt.where(_JOBS.c.run_id == run_id, _JOBS.c.state == JobState.RUNNING)
        if attempt is not None:
            stmt = stmt.where(_JOBS.c.attempts == attempt)
    result = await session.execute(stmt.values(**values))
    return run_id is None or bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, kw_only=True)
class DeadRun:
    """A run found dead, and its jobs that went back to the queue."""

    run_id: str
    label: str  # host:pid
    reason: str  # "no longer running", "no heartbeat for 412 s", ...
    job_ids: tuple[int, ...]


async def requeue_dead_runs(session: AsyncSession, *, me: RunIdentity,
                            now: datetime | None = None) -> list[DeadRun]:
    """The ``running`` jobs of every run known dead (``runs.dead_reason``), and of runs
    that left no row, go back to the queue at once; the run is marked ended. Jobs of runs
    that may be alive stay. ``now`` is the database's clock (``runs.db_now``), which the
    heartbeats are written in."""
    now = now or await db_now(session)
    jobs = _JOBS
    holders = sa.select(jobs.c.run_id).where(jobs.c.state == JobState.RUNNING,
                                             jobs.c.run_id.is_not(None)).distinct()
    held = {run_id for run_id in (await session.scalars(holders)).all() if run_id is not None}
    found: list[DeadRun] = []
    for run in (await session.scalars(sa.select(Run).where(col(Run.id).in_(holders)))).all():
        held.discard(run.id)
        reason = dead_reason(run, me=me, now=now)
        if reason is None:
            continue
        label = f"{run.host}:{run.pid}"
        if run.ended_at is None:
            run.ended_at = now
        found += await _requeue_run(session, run.id, label=label, reason=reason, now=now)
    for run_id in sorted(held):  # no row: it was forgotten while a claim of it committed
        found += await _requeue_run(session, run_id, label=run_id,
                                    reason="left no record", now=now)
    return found


async def _requeue_run(session: AsyncSession, run_id: str, *, label: str, reason: str,
                       now: datetime) -> list[DeadRun]:
    jobs = _JOBS
    requeued = await session.execute(
        sa.update(jobs).where(jobs.c.run_id == run_id, jobs.c.state == JobState.RUNNING)
        .values(state=JobState.QUEUED, run_after=now, updated_at=now,
                last_error=f"interrupted: run {label} {reason}; requeued")
        .returning(jobs.c.id))
    ids = tuple(sorted(requeued.scalars().all()))
    if not ids:  # another run may have requeued them first
        return []
    return [DeadRun(run_id=run_id, label=label, reason=reason, job_ids=ids)]


async def requeue_stale(session: AsyncSession, *, older_than: timedelta) -> int:
    """Jobs left ``running`` by a run that did not record itself (claimed before runs were
    recorded) go back to the queue once ``older_than`` has passed. Returns how many."""
    cutoff = utc_now() - older_than
    jobs = _JOBS
    result = await session.execute(
        sa.update(jobs)
        .where(jobs.c.state == JobState.RUNNING, jobs.c.claimed_at < cutoff,
               jobs.c.run_id.is_(None))
        .values(state=JobState.QUEUED, updated_at=utc_now(), last_error="interrupted; requeued")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def release_retries(session: AsyncSession, *, due_only: bool) -> int:
    """Move ``retry`` jobs back to ``queued``: all of them (an explicit run), or the due ones."""
    now = utc_now()
    jobs = _JOBS
    stmt = sa.update(jobs).where(jobs.c.state == JobState.RETRY)
    if due_only:
        stmt = stmt.where(jobs.c.run_after <= now)
    result = await session.execute(stmt.values(state=JobState.QUEUED, run_after=now,
                                               updated_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def next_retry(session: AsyncSession, *, kind: str = CAPTURE) -> datetime | None:
    """When the earliest ``retry`` job of ``kind`` is due (``release_retries``)."""
    due: datetime | None = await session.scalar(
        sa.select(sa.func.min(_JOBS.c.run_after))
        .where(_JOBS.c.state == JobState.RETRY, _JOBS.c.kind == kind))
    return due


async def defer(session: AsyncSession, *, kind: str, until: datetime) -> int:
    """Waiting jobs of ``kind`` due before ``until`` wait until then (a service's
    Retry-After holds for all of them). Returns how many."""
    jobs = _JOBS
    result = await session.execute(
        sa.update(jobs).where(jobs.c.kind == kind, jobs.c.state == JobState.QUEUED,
                              jobs.c.run_after < until)
        .values(run_after=until, updated_at=utc_now()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def next_due(session: AsyncSession, *, kind: str = CAPTURE,
                   paused: Mapping[str, datetime] | None = None) -> datetime | None:
    """When the earliest waiting job of ``kind`` becomes due (None when nothing waits);
    with ``paused`` (group -> until, ``preserver.db.pauses``), a paused group's jobs are
    due when its pause ends."""
    if not paused:
        return await session.scalar(
            sa.select(sa.func.min(col(Job.run_after))).where(col(Job.state) == JobState.QUEUED,
                                                             col(Job.kind) == kind))
    rows = await session.execute(
        sa.select(_JOBS.c.host, sa.func.min(_JOBS.c.run_after))
        .where(_JOBS.c.state == JobState.QUEUED, _JOBS.c.kind == kind).group_by(_JOBS.c.host))
    times = [max(when, paused.get(host, when)) for host, when in rows.all()]
    return min(times, default=None)

