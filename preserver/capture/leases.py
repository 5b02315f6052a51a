"""A run's hold on its jobs, and a worker's wait for more (docs/design.md "Job queue and
many workers").

- ``keep_alive``: the run's heartbeat (``preserver.db.runs``) and the lease of every job
  it holds (``queue.renew_leases``), renewed together every third of ``[queue] lease``
  at most (and every ``runs.HEARTBEAT`` at least). A job whose lease passes unrenewed
  (its process died, stalled or lost the database) is taken over by the next claim of
  any run, and the first run can then no longer record it: the claim's attempt number
  is the fencing token (``JobRecord.attempt``, ``queue.finish``). With ``[queue]
  global_per_host`` the per-host limit counts every run's jobs under a live lease.
- ``idle``: what a ``forever`` run (``preserver worker``) does when nothing is due: it
  releases the due retries, then waits for a job to be queued (``JobNotices``:
  PostgreSQL ``LISTEN``), for the next job due, paused group resumed or lease ended,
  or ``[queue] poll`` at most.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from preserver.archive import Archive
from preserver.capture import walls
from preserver.db import queue, runs
from preserver.db.models import utc_now
from preserver.db.notify import JobNotices

log = logging.getLogger(__name__)

# An idle worker looks again after at least this long (a due job it cannot claim yet,
# say its group is full or paused, must not make it spin).
MIN_IDLE = 0.25


async def keep_alive(archive: Archive, run_id: str, lease: timedelta) -> None:
    """Renew run ``run_id``'s heartbeat and its jobs' leases until cancelled."""
    every = min(runs.HEARTBEAT, lease / 3).total_seconds()
    while True:
        await asyncio.sleep(every)
        try:
            async with archive.db.session() as session:
                await runs.heartbeat(session, run_id)
                await queue.renew_leases(session, run_id, lease)
        # any error: a database restart is an unwrapped OSError from asyncpg, and a
        # heartbeat task that died would let another worker take this live run's jobs.
        # The next beat may get through within the lease.
        except Exception:
            log.warning("heartbeat of run %s not recorded", run_id, exc_info=True)


async def idle(archive: Archive, notices: JobNotices, stop: asyncio.Event) -> None:
    """Release due retries, then wait for work (or ``stop``)."""
    async with archive.db.session() as session:
        await queue.release_retries(session, due_only=True)
        ends = [await queue.lease_ends(session), await queue.next_retry(session)]
    ends.append(await walls.next_start(archive))
    now = utc_now()
    wait = min([archive.config.queue.poll,
                *((when - now).total_seconds() for when in ends if when is not None)])
    await notices.wait(max(MIN_IDLE, wait), stop)
