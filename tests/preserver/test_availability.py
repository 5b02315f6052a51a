from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from preserver.audit.availability import RecentCheck, next_state, record_check
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


# -- the rule alone: previous state, this answer, the recent answers -> the new state --------

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _recent(*answers: tuple[Status, float]) -> list[RecentCheck]:
    """Answers given oldest first, as (status, hours after T0); returned newest first."""
    return [RecentCheck(status=s.value, checked_at=T0 + timedelta(hours=h))
            for s, h in reversed(answers)]


@pytest.mark.parametrize(("previous", "status", "recent", "expected"), [
    ("unknown", Status.AVAILABLE, [], "available"),
    ("available", Status.AVAILABLE, [], None),  # no change
    ("available", Status.PRIVATE, [], "private"),  # restricted: at once
    ("available", Status.RATE_LIMITED, [], None),  # inconclusive: never
    ("not_found", Status.ERROR, [], None),
    # down: two down answers, 6 hours apart at least
    ("available", Status.NOT_FOUND, _recent((Status.NOT_FOUND, 0)), None),
    ("available", Status.NOT_FOUND,
     _recent((Status.NOT_FOUND, 0), (Status.NOT_FOUND, 5)), None),  # too close
    ("available", Status.NOT_FOUND,
     _recent((Status.NOT_FOUND, 0), (Status.NOT_FOUND, 6)), "not_found"),
    ("available", Status.REMOVED_UPLOADER,  # different down statuses confirm each other
     _recent((Status.NOT_FOUND, 0), (Status.REMOVED_UPLOADER, 7)), "removed_uploader"),
    ("available", Status.NOT_FOUND,  # an inconclusive answer between breaks the run
     _recent((Status.RATE_LIMITED, 0), (Status.NOT_FOUND, 7)), None),
    ("available", Status.NOT_FOUND,  # only the last two count
     _recent((Status.AVAILABLE, 0), (Status.NOT_FOUND, 1), (Status.NOT_FOUND, 8)),
     "not_found"),
    ("not_found", Status.NOT_FOUND,
     _recent((Status.NOT_FOUND, 0), (Status.NOT_FOUND, 8)), None),  # already down
])
def test_the_state_rule(previous: str, status: Status, recent: list[RecentCheck],
                        expected: str | None) -> None:
    assert next_state(previous, status, recent, confirmations=2,
                      confirm_after=6 * HOUR) == expected


def test_one_confirmation_needs_no_spacing() -> None:
    assert next_state("available", Status.NOT_FOUND, _recent((Status.NOT_FOUND, 0)),
                      confirmations=1, confirm_after=6 * HOUR) == "not_found"
