from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from preserver.audit.availability import record_check
from preserver.db.engine import Database
from preserver.db.models import AvailabilityCheck, Event, Target, utc_now
from workers import Status

HOUR = 3600.0


async def _check(db: Database, status: Status, at: float, *, confirmations: int = 2) -> str:
    async with db.session() as s:
        target = await s.scalar(sa.select(Target).where(Target.key == "youtube:aaaaaaaaaaa"))
        if target is None:
            target = Target(key="youtube:aaaaaaaaaaa", url="u", platform="youtube",
                            created_at=utc_now())
            s.add(target)
            await s.flush()
        outcome = await record_check(s, target, status=status, message=status.value,
                                     probe="test", confirmations=confirmations,
                                     confirm_after=6 * HOUR, operator="t",
                                     now=utc_now() + timedelta(seconds=at))
        return outcome.current


async def test_inconclusive_results_never_change_the_state(db: Database) -> None:
    assert await _check(db, Status.AVAILABLE, 0) == "available"
    for i, status in enumerate([Status.RATE_LIMITED, Status.ERROR, Status.UNKNOWN] * 3):
        assert await _check(db, status, (i + 1) * 8 * HOUR) == "available"


async def test_down_needs_confirmations_spaced_apart(db: Database) -> None:
    assert await _check(db, Status.AVAILABLE, 0) == "available"
    assert await _check(db, Status.REMOVED_UPLOADER, 1 * HOUR) == "available"
    # a second down result too soon does not confirm
    assert await _check(db, Status.REMOVED_UPLOADER, 2 * HOUR) == "available"
    # spaced at least confirm_after from the first of the last two: confirmed
    assert await _check(db, Status.REMOVED_UPLOADER, 9 * HOUR) == "removed_uploader"
    async with db.session() as s:
        n_checks = await s.scalar(sa.select(sa.func.count(AvailabilityCheck.id)))
        actions = (await s.scalars(sa.select(Event.action))).all()
    assert n_checks == 4
    assert actions == ["availability_changed", "availability_changed"]


async def test_an_interrupting_inconclusive_result_resets_confirmation(db: Database) -> None:
    await _check(db, Status.AVAILABLE, 0)
    await _check(db, Status.NOT_FOUND, 1 * HOUR)
    await _check(db, Status.RATE_LIMITED, 8 * HOUR)
    assert await _check(db, Status.NOT_FOUND, 16 * HOUR) == "available"
    assert await _check(db, Status.NOT_FOUND, 23 * HOUR) == "not_found"


async def test_restricted_and_up_change_at_once(db: Database) -> None:
    assert await _check(db, Status.PRIVATE, 0) == "private"
    assert await _check(db, Status.AVAILABLE, 1) == "available"


async def test_single_confirmation_configured(db: Database) -> None:
    assert await _check(db, Status.NOT_FOUND, 0, confirmations=1) == "not_found"
