"""``preserver.db.pauses``: walls in a row, growing pauses, resets; the claim and
``next_due`` skip a paused group. Real SQLite, and PostgreSQL when configured; the
clock is passed in (``now``), so hours pass in no time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from preserver.db import pauses, queue
from preserver.db.engine import Database, session_reader
from preserver.db.models import GroupPause, Target, utc_now
from preserver.db.pauses import PausePolicy
from preserver.views.counts import status

T0 = datetime(2026, 11, 26, 19, 25, tzinfo=UTC)
POLICY = PausePolicy(pause_after=3)


async def _note(db: Database, *, wall: bool = True, bot: bool = True, success: bool = False,
                at: datetime = T0, policy: PausePolicy = POLICY,
                host: str = "youtube") -> pauses.Pause | None:
    async with db.session() as s:
        return await pauses.note(s, host, wall=wall, bot_check=bot and wall, success=success,
                                 policy=policy, message="Sign in to confirm you're not a bot",
                                 now=at)


async def _row(db: Database, host: str = "youtube") -> GroupPause:
    async with db.session() as s:
        return await s.get_one(GroupPause, host)


async def test_three_walls_pause_for_15_minutes_then_doubling_to_6_hours(db: Database) -> None:
    assert await _note(db) is None
    assert await _note(db, bot=False) is None  # a login wall counts too
    started = await _note(db)
    assert started is not None and started.until == T0 + timedelta(minutes=15)
    assert started.message == ("youtube paused until 2026-11-26 19:40 UTC, 2 bot checks and "
                               "1 login wall in a row")
    # walls of jobs already running when the pause began do not lengthen it
    assert await _note(db, at=T0 + timedelta(minutes=5)) is None
    assert (await _row(db)).paused_until == T0 + timedelta(minutes=15)
    # after each pause, the first wall pauses again, twice as long, at most 6 hours
    at, lengths = T0, []
    for _ in range(7):
        at = (await _row(db)).paused_until or at
        again = await _note(db, at=at)
        assert again is not None
        lengths.append(again.until - at)
    assert lengths == [timedelta(minutes=m) for m in (30, 60, 120, 240)] + [
        timedelta(hours=6)] * 3


async def test_a_success_resets_the_walls_and_the_doubling(db: Database) -> None:
    for _ in range(3):
        await _note(db)
    await _note(db, wall=False, at=T0 + timedelta(minutes=1))  # a 404: the run of walls ends
    row = await _row(db)
    assert (row.walls, row.pauses, row.paused_until) == (0, 1, T0 + timedelta(minutes=15))
    await _note(db, wall=False, success=True, at=T0 + timedelta(minutes=2))
    row = await _row(db)
    assert (row.walls, row.bot_checks, row.pauses, row.paused_until) == (0, 0, 0, None)
    for _ in range(2):
        await _note(db, at=T0 + timedelta(hours=1))
    started = await _note(db, at=T0 + timedelta(hours=1))
    assert started is not None and started.until == T0 + timedelta(hours=1, minutes=15)


async def test_pause_after_zero_never_pauses(db: Database) -> None:
    for _ in range(10):
        assert await _note(db, policy=PausePolicy(pause_after=0)) is None
    async with db.session() as s:
        assert await pauses.paused(s, T0) == {}


async def test_claim_and_next_due_skip_a_paused_group(db: Database) -> None:
    async with db.session() as s:
        for key, host in (("youtube:aaaaaaaaaaa", "youtube"), ("web:x", "example.org")):
            t = Target(key=key, url=f"https://{host}/{key}", platform=key.split(":")[0],
                       created_at=utc_now())
            s.add(t)
            await s.flush()
            assert t.id is not None
            await queue.enqueue(s, target_id=t.id, host=host)
    now = utc_now()
    for _ in range(3):
        await _note(db, at=now)
    async with db.session() as s:
        paused = await pauses.paused(s, now)
        assert paused == {"youtube": now + timedelta(minutes=15)}
        due = await queue.next_due(s, paused=paused)
        claimed = await queue.claim(s, exclude_hosts=frozenset(paused), now=now)
        assert claimed is not None and claimed.host == "example.org"
        assert await queue.claim(s, exclude_hosts=frozenset(paused), now=now) is None
        # the paused group's job is due when its pause ends, not before
        assert await queue.next_due(s, paused=paused) == now + timedelta(minutes=15)
        assert due is not None and due <= now
        shown = (await status(session_reader(s)))["paused"]
    assert shown == [{
        "group": "youtube", "until": (now + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "walls": 3, "bot_checks": 3, "login_walls": 0,
        "last_message": "Sign in to confirm you're not a bot",
        "message": f"youtube paused until {now + timedelta(minutes=15):%Y-%m-%d %H:%M} UTC, "
                   "3 bot checks in a row"}]


@pytest.mark.parametrize("walls", [1, 2])
async def test_fewer_walls_than_pause_after_do_not_pause(db: Database, walls: int) -> None:
    for _ in range(walls):
        assert await _note(db) is None
    async with db.session() as s:
        assert await pauses.paused(s, T0) == {}
        assert await pauses.active(session_reader(s), T0) == []
