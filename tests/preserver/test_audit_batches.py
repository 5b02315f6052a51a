"""Recording an audit's answers in batches (``record_checks`` on ``Target`` rows, and
``record_answers`` on ``TargetState`` values, as the audit does) stores the same checks,
reaches the same states and writes the same custody events as one ``record_check`` per
answer, on a mixed set (up, 404 confirmed over rounds, 429, walls), on each database
the suite runs (SQLite, and PostgreSQL when ``PRESERVER_TEST_POSTGRES_URL`` is set)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from preserver.audit.availability import (
    Answer,
    record_answers,
    record_check,
    record_checks,
    target_states,
)
from preserver.db.engine import Database
from preserver.db.models import AvailabilityCheck, Event, Target, utc_now
from workers import Status

# per target: its answer in each of three rounds (status, wall)
PLAN: dict[str, list[tuple[Status, bool]]] = {
    "up": [(Status.AVAILABLE, False)] * 3,
    "gone": [(Status.NOT_FOUND, False)] * 3,  # down once confirmed (2 answers, spaced)
    "gone-then-429": [(Status.NOT_FOUND, False), (Status.RATE_LIMITED, False),
                      (Status.NOT_FOUND, False)],
    "throttled": [(Status.RATE_LIMITED, False)] * 3,
    "walled": [(Status.LOGIN_REQUIRED, True)] * 3,  # a wall never changes the state
    "back": [(Status.NOT_FOUND, False), (Status.NOT_FOUND, False), (Status.AVAILABLE, False)],
}


async def _record(db: Database, prefix: str, *, batched: bool, states: bool = False) -> None:
    async with db.session() as s:
        s.add_all(Target(key=f"{prefix}{name}", url="u", platform="web", created_at=utc_now())
                  for name in PLAN)
    start = utc_now()
    for round_ in range(3):
        at = start + timedelta(hours=round_)
        async with db.session() as s:
            rows = {t.key: t for t in (await s.scalars(
                sa.select(Target).where(Target.key.startswith(prefix)))).all()}  # type: ignore[attr-defined]
            answers = [(rows[f"{prefix}{name}"], Answer(
                status=plan[round_][0], message=f"said {plan[round_][0]}", probe="page",
                at=at, http_status=404, wall=plan[round_][1])) for name, plan in PLAN.items()]
            if states:  # as the audit records: plain values, the next check written too
                found = await target_states(s, [row.key for row, _ in answers])
                await record_answers(s, [(found[row.key], a) for row, a in answers],
                                     next_check=lambda state, a: a.at + timedelta(days=1),
                                     confirmations=2, confirm_after=1800, operator="t")
            elif batched:
                await record_checks(s, answers, confirmations=2, confirm_after=1800,
                                    operator="t")
            else:
                for row, a in answers:
                    await record_check(s, row, status=a.status, message=a.message,
                                       probe=a.probe, confirmations=2, confirm_after=1800,
                                       operator="t", http_status=a.http_status, now=a.at,
                                       wall=a.wall)


async def _seen(db: Database, prefix: str) -> tuple[object, ...]:
    async with db.session() as s:
        targets = sorted((t.key.removeprefix(prefix), t.status, t.last_status, t.last_message)
                         for t in (await s.scalars(sa.select(Target).where(
                             Target.key.startswith(prefix)))).all())  # type: ignore[attr-defined]
        checks = (await s.execute(
            sa.select(sa.func.count()).select_from(AvailabilityCheck).join(Target)
            .where(Target.key.startswith(prefix)))).scalar_one()  # type: ignore[attr-defined]
        events = [(e.subject.removeprefix(prefix), json.loads(e.body)["details"])
                  for e in (await s.scalars(sa.select(Event).where(
                      Event.subject.startswith(prefix)).order_by(Event.id))).all()]  # type: ignore[attr-defined]
    return tuple(targets), checks, events


async def test_batches_store_what_one_at_a_time_stores(db: Database) -> None:
    await _record(db, "one:", batched=False)
    await _record(db, "batch:", batched=True)
    targets, checks, events = await _seen(db, "one:")
    assert checks == 3 * len(PLAN)
    assert {k: s for k, s, _, _ in targets} == {
        "up": "available", "gone": "not_found", "gone-then-429": "unknown",
        "throttled": "unknown", "walled": "unknown", "back": "available"}
    assert [s for s, _ in events] == ["up", "gone", "back", "back"]  # in answer order
    assert await _seen(db, "batch:") == (targets, checks, events)


async def test_the_audits_batches_store_what_one_at_a_time_stores(db: Database) -> None:
    """``record_answers`` (one multi-row update of the targets, no ORM object) reaches the
    same states, checks and events as ``record_check``, and writes each next check."""
    start = utc_now()
    await _record(db, "one:", batched=False)
    await _record(db, "states:", batched=True, states=True)
    assert await _seen(db, "states:") == await _seen(db, "one:")
    async with db.session() as s:
        rows = (await s.scalars(sa.select(Target).where(
            Target.key.startswith("states:")))).all()  # type: ignore[attr-defined]
    assert len(rows) == len(PLAN)
    for row in rows:  # the last of the three rounds, two hours after the first
        assert row.last_checked_at is not None and row.next_check_at is not None
        assert row.next_check_at - row.last_checked_at == timedelta(days=1)
        assert row.last_checked_at - start >= timedelta(hours=2)


async def test_two_answers_for_one_target_in_a_batch_are_refused(db: Database) -> None:
    async with db.session() as s:
        target = Target(key="web:x", url="u", platform="web", created_at=utc_now())
        s.add(target)
        await s.flush()
        a = Answer(status=Status.NOT_FOUND, message="", probe="page", at=utc_now())
        with pytest.raises(ValueError, match="one check per target"):
            await record_checks(s, [(target, a), (target, a)], confirmations=2,
                                confirm_after=0, operator="t")
