"""What a capture's wall means for its politeness group: the glue between the run loop
and ``preserver.db.pauses`` (docs/design.md "Walls").

Each recorded result is noted in the transaction that records it (``note_result``,
called by ``record.record_result``); the pause it may start is logged as a warning, once,
naming the group and until when (``tell``). The claim skips paused
groups (``claim_next``), whose jobs wait until the pause ends (``next_start``); the
other groups keep working.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from preserver.archive import Archive
from preserver.db import pauses, queue
from preserver.db.models import utc_now
from preserver.db.pauses import Pause, PausePolicy
from preserver.db.queue import ClaimedJob
from workers import CaptureResult, Status

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PauseLengths:
    """How long a group pauses, in seconds: ``base`` first, doubling, at most ``cap``
    (15 min and 6 h), and the clock pauses are started and read by (tests move it)."""

    base: float = pauses.BASE
    cap: float = pauses.CAP
    clock: Callable[[], datetime] = utc_now


# The lengths every run uses; tests replace it (a short base, a clock they move).
LENGTHS = PauseLengths()


async def note_result(session: AsyncSession, archive: Archive, host: str,
                      result: CaptureResult) -> Pause | None:
    """Note ``result`` for group ``host``, in ``session``: the transaction that records
    the result (``record.record_result``), so both are one commit. The pause it starts,
    if any, for ``tell`` once that commit is done."""
    lengths = LENGTHS
    policy = PausePolicy(pause_after=archive.config.access_for(host).pause_after,
                         base=lengths.base, cap=lengths.cap)
    return await pauses.note(
        session, host, wall=result.wall, bot_check=result.status is Status.BOT_CHECK,
        success=result.status is Status.AVAILABLE and not result.wall, policy=policy,
        message=result.message, now=lengths.clock())


def tell(started: Pause) -> None:
    """Log a pause that a result started: a warning, once, naming the group and until when."""
    log.warning("%s; no new job of it starts before then (last: %s)", started.message,
                started.last_message)


async def claim_next(archive: Archive, busy: frozenset[str], *, run_id: str,
                     lease: timedelta | None = None, host_limit: int | None = None
                     ) -> ClaimedJob | None:
    """The next due job whose group is neither ``busy`` nor paused (``lease``,
    ``host_limit``: ``queue.claim``)."""
    async with archive.db.session() as session:
        paused = await pauses.paused(session, LENGTHS.clock())
        return await queue.claim(session, exclude_hosts=busy | frozenset(paused), run_id=run_id,
                                 lease=lease, host_limit=host_limit)


async def next_start(archive: Archive) -> datetime | None:
    """When the next waiting job may start: when it is due, or its group's pause ends."""
    async with archive.db.session() as session:
        paused = await pauses.paused(session, LENGTHS.clock())
        return await queue.next_due(session, paused=paused)
