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
  than the lease.

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

from preserver.db.models import Run, core_table, utc_now
from workers import process_start

# A run renews its heartbeat this often ...
HEARTBEAT = timedelta(seconds=30)
# ... and a run of another machine whose heartbeat is older than this is dead.
LEASE = timedelta(minutes=5)

_RUNS = core_table(Run)


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


async def start_run(session: AsyncSession, me: RunIdentity) -> str:
    """Record a run of this process; returns its id."""
    run_id, now = uuid.uuid4().hex, utc_now()
    session.add(Run(id=run_id, host=me.host, machine=me.machine, pid=me.pid,
                    process_start=me.process_start, started_at=now, heartbeat_at=now))
    return run_id


async def heartbeat(session: AsyncSession, run_id: str) -> None:
    await session.execute(sa.update(_RUNS).where(_RUNS.c.id == run_id)
                          .values(heartbeat_at=utc_now()))


async def end_run(session: AsyncSession, run_id: str, *, claimed: bool) -> None:
    """The run is over: kept as its jobs' claimant when it claimed any, else forgotten."""
    if claimed:
        await session.execute(sa.update(_RUNS).where(_RUNS.c.id == run_id)
                              .values(ended_at=utc_now()))
    else:
        await session.execute(sa.delete(_RUNS).where(_RUNS.c.id == run_id))
