"""Capture runs: which process claimed a job, and whether it still lives.

Every capture run records itself in ``runs`` (host name, pid, the process's start
time from ``/proc/<pid>/stat``, and a heartbeat) and every job it claims names it
(``jobs.run_id``). A later run asks of each run that holds ``running`` jobs whether
it is dead (``dead_reason``):

- a run that ended (its jobs were left unrecorded, say the database failed);
- a run of this machine (same host name, boot and pid namespace, so its process is
  visible in ``/proc``) whose process is gone, or whose pid now names a process that
  started at another time (a reused pid);
- a run of another machine, whose processes we cannot see, whose heartbeat is older
  than the lease. Heartbeats are written and compared in the database's clock
  (``db_now``, ``CURRENT_TIMESTAMP``), so the clocks of the machines need not agree.

A job whose run has no row (a run forgets itself only when no job names it) is
treated as dead too.

``preserver.db.queue.requeue_dead_runs`` requeues the jobs of dead runs at once.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from preserver.db.models import Job, Run, UTCDateTime, core_table, utc_now
from workers import process_start

# A run renews its heartbeat this often ...
HEARTBEAT = timedelta(seconds=30)
# ... and a run of another machine whose heartbeat is older than this is dead.
LEASE = timedelta(minutes=5)

_RUNS = core_table(Run)
_JOBS = core_table(Job)


@dataclass(frozen=True, kw_only=True)
class RunIdentity:
    """A process that runs captures, as another process can check it."""

    host: str
    machine: str  # "" when this system has no /proc: only the lease tells then
    pid: int
    process_start: int | None

    @property
    def label(self) -> str:
        return f"{self.host}:{self.pid}"


def this_process() -> RunIdentity:
    pid = os.getpid()
    return RunIdentity(host=socket.gethostname(), machine=_machine(), pid=pid,
                       process_start=process_start(pid))


def _machine() -> str:
    """Boot id and pid namespace: two processes that share them see each other in /proc."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        pid_ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}/{pid_ns}"


def dead_reason(run: Run, *, me: RunIdentity, now: datetime,
                lease: timedelta = LEASE) -> str | None:
    """Why ``run`` is known dead, or None when it may still be working."""
    if run.ended_at is not None:
        return "ended without recording them"
    if me.machine and run.machine == me.machine and run.host == me.host:
        if process_start(run.pid) != run.process_start:
            return "no longer running"
        return None
    if run.heartbeat_at < now - lease:
        return f"no heartbeat for {int((now - run.heartbeat_at).total_seconds())} s"
    return None


async def db_now(session: AsyncSession) -> datetime:
    """The database's clock, the one every machine's heartbeat is written and read in.

    SQLite's ``CURRENT_TIMESTAMP`` is UTC text to the second, which ``UTCDateTime`` reads
    (``type_coerce`` applies its result processing without a SQL ``CAST``)."""
    stmt = sa.select(sa.type_coerce(sa.func.now(), UTCDateTime()))
    now: datetime = (await session.execute(stmt)).scalar_one()
    return now


async def start_run(session: AsyncSession, me: RunIdentity) -> str:
    """Record a run of this process; returns its id."""
    run_id, now = uuid.uuid4().hex, await db_now(session)
    session.add(Run(id=run_id, host=me.host, machine=me.machine, pid=me.pid,
                    process_start=me.process_start, started_at=now, heartbeat_at=now))
    return run_id


async def heartbeat(session: AsyncSession, run_id: str) -> None:
    """Renew the lease, in the database's clock (``db_now``)."""
    await session.execute(sa.update(_RUNS).where(_RUNS.c.id == run_id)
                          .values(heartbeat_at=sa.func.now()))


async def end_run(session: AsyncSession, run_id: str) -> None:
    """The run is over: kept (ended) as the claimant of any job that names it, else
    forgotten. Whether it claimed is asked of the jobs, not of the run's own count: a
    claim may commit and the run be cancelled before it counts the job."""
    await session.execute(sa.update(_RUNS).where(_RUNS.c.id == run_id)
                          .values(ended_at=utc_now()))
    await session.execute(sa.delete(_RUNS).where(
        _RUNS.c.id == run_id, ~sa.exists().where(_JOBS.c.run_id == run_id)))
