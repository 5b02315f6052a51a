"""What a capture's wall means for its politeness group: the glue between the run loop
and ``preserver.db.pauses`` (docs/design.md "Walls").

After each recorded result the run notes it (``note_result``); the pause it may start
is logged as a warning, once, naming the group and until when. The claim skips paused
groups (``paused_groups``); the other groups keep working.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from preserver.archive import Archive
from preserver.db import pauses
from preserver.db.models import utc_now
from preserver.db.pauses import PausePolicy
from preserver.errors import PreserverError
from workers import CaptureResult, Status

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PauseLengths:
    """How long a group pauses, in seconds: ``base`` first, doubling, at most ``cap``
    (15 min and 6 h), and the clock pauses are started and read by (tests move it)."""

    base: float = pauses.BASE
    cap: float = pauses.CAP
    clock: Callable[[], datetime] = utc_now


DEFAULT_PAUSE = PauseLengths()


async def note_result(archive: Archive, host: str, result: CaptureResult,
                      lengths: PauseLengths) -> str | None:
    """Note ``result`` for group ``host``; the pause it started, if any (logged), as
    ``status`` words it. A database failure here is logged: the result is recorded,
    only this count is lost."""
    policy = PausePolicy(pause_after=archive.config.access_for(host).pause_after,
                         base=lengths.base, cap=lengths.cap)
    try:
        async with archive.db.session() as session:
            started = await pauses.note(
                session, host, wall=result.wall, bot_check=result.status is Status.BOT_CHECK,
                success=result.status is Status.AVAILABLE and not result.wall, policy=policy,
                message=result.message, now=lengths.clock())
    except PreserverError as exc:
        log.error("walls of %s not counted: %s", host, exc)
        return None
    if started is None:
        return None
    log.warning("%s; no new job of it starts before then (last: %s)", started.message,
                started.last_message)
    return started.message


async def paused_groups(archive: Archive, lengths: PauseLengths) -> dict[str, datetime]:
    """The groups paused now (by ``lengths.clock``), and until when."""
    async with archive.db.session() as session:
        return await pauses.paused(session, lengths.clock())
