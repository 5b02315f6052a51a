"""A run of walls pauses its politeness group (docs/design.md "Walls").

Every capture result of a group is noted (``note``): a wall (a bot check, a login
wall) adds to the group's run of walls; anything else ends it. When the run
reaches ``[access.<group>] pause_after`` (0: never), no new job of the group
starts until ``paused_until``: ``base`` seconds (15 min) the first time, twice
as long each time after, at most ``cap`` (6 h). While the run of walls goes on,
the first wall after a pause has ended pauses the group again, longer; walls of
jobs that were already running when a pause began do not lengthen it. A
successful capture (status ``available``, no wall) ends the run, the pause and
the doubling.

Pauses live in the ``group_pauses`` table, so another run, or ``serve``, honours
them: ``paused`` is what a claim skips, ``active`` what ``status`` shows (through the
read path, ``db.reading``: this module loads SQLAlchemy only where it writes or claims).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from preserver.db.values import as_utc, utc_now

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from preserver.db.models import GroupPause
    from preserver.db.reading import Reader

BASE = 15 * 60.0  # seconds of the first pause
CAP = 6 * 3600.0  # seconds of the longest


@dataclass(frozen=True, kw_only=True)
class PausePolicy:
    """When a group pauses, and for how long (seconds)."""

    pause_after: int  # walls in a row; 0: never pause
    base: float = BASE
    cap: float = CAP

    def length(self, pauses: int) -> float:
        """The pause that follows ``pauses`` earlier ones: base, doubled each time, capped."""
        return min(self.base * 2.0 ** min(pauses, 32), self.cap)


@dataclass(frozen=True, kw_only=True)
class Pause:
    """A group's pause, as ``status`` shows it."""

    host: str
    until: datetime
    walls: int
    bot_checks: int
    last_message: str

    @property
    def message(self) -> str:
        """``youtube paused until 2026-11-26 19:40 UTC, 3 bot checks in a row``."""
        logins = self.walls - self.bot_checks
        parts = [f"{n} {word}{'s' if n != 1 else ''}"
                 for n, word in ((self.bot_checks, "bot check"), (logins, "login wall")) if n]
        return (f"{self.host} paused until {self.until:%Y-%m-%d %H:%M} UTC, "
                f"{' and '.join(parts)} in a row")

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.host, "until": self.until.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "walls": self.walls, "bot_checks": self.bot_checks,
                "login_walls": self.walls - self.bot_checks, "last_message": self.last_message,
                "message": self.message}


def _pause(row: GroupPause) -> Pause:
    assert row.paused_until is not None
    return Pause(host=row.host, until=row.paused_until, walls=row.walls,
                 bot_checks=row.bot_checks, last_message=row.last_message)


async def note(session: AsyncSession, host: str, *, wall: bool, bot_check: bool, success: bool,
               policy: PausePolicy, message: str = "", now: datetime | None = None,
               ) -> Pause | None:
    """Note one capture result of group ``host``; the pause it started, if it started one.

    ``wall``: a bot check or login wall (``bot_check`` says which); ``success``: the
    platform let us through (ends the run of walls, the pause and the doubling)."""
    from preserver.db.models import GroupPause

    now = now or utc_now()
    row = await session.get(GroupPause, host)
    if not wall:
        if row is not None and (row.walls or (success and (row.pauses or row.paused_until))):
            row.walls = row.bot_checks = 0
            if success:
                row.pauses, row.paused_until = 0, None
            row.updated_at = now
        return None
    if row is None:
        row = GroupPause(host=host, updated_at=now)
        session.add(row)
    row.walls += 1
    row.bot_checks += int(bot_check)
    row.last_message, row.updated_at = message[:2000], now
    paused = row.paused_until is not None and row.paused_until > now
    if policy.pause_after <= 0 or row.walls < policy.pause_after or paused:
        return None
    row.paused_until = now + timedelta(seconds=policy.length(row.pauses))
    row.pauses += 1
    return _pause(row)


async def paused(session: AsyncSession, now: datetime | None = None) -> dict[str, datetime]:
    """Every group paused at ``now``, and until when."""
    import sqlalchemy as sa
    from sqlmodel import col

    from preserver.db.models import GroupPause

    now = now or utc_now()
    rows = await session.execute(sa.select(col(GroupPause.host), col(GroupPause.paused_until))
                                 .where(col(GroupPause.paused_until) > now))
    return {host: until for host, until in rows.all() if until is not None}


async def active(reader: Reader, now: datetime | None = None) -> list[Pause]:
    """The pauses in force at ``now``, soonest to end first."""
    rows = await reader.rows(
        "SELECT host, walls, bot_checks, paused_until, last_message FROM group_pauses "
        "WHERE paused_until > :now ORDER BY paused_until, host", {"now": now or utc_now()})
    return [Pause(host=r["host"], until=as_utc(r["paused_until"]), walls=r["walls"],
                  bot_checks=r["bot_checks"], last_message=r["last_message"]) for r in rows]
