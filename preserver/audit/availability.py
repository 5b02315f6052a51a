"""Availability state of targets: every check is a row; the state changes only on
conclusive evidence (docs/design.md "Availability statuses", contract).

- ``next_state``, the rule, a pure function:
  - an inconclusive result (``rate_limited``, ``error``, ``unknown``) never changes
    the state;
  - ``available`` and restricted results change it at once;
  - a down result changes it only when the last ``confirmations`` checks are all
    down and the first and last of them are at least ``confirm_after`` apart.
- ``record_checks`` stores many checks of distinct targets in the caller's transaction
  (one multi-row insert, one read of the down ones' latest checks) and applies the rule
  to each ``Target`` row; each change is a custody event. ``record_check`` is the same
  for one check (a capture's). ``record_answers`` is what an audit uses for its batches:
  the same rule on ``TargetState`` values read with ``target_states`` (no ORM object),
  each target's new fields and next check written by one multi-row ``UPDATE``. A wall (``wall=True``: a bot check or a login wall stood where the link's
  answer should be, docs/design.md "Walls") is stored as a check and never changes
  the state, whatever its status: a login wall we were shown is not the link
  becoming ``login_required``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from preserver.custody.events import EventAction, event_row, record_events
from preserver.db.models import AvailabilityCheck, Target, core_table, utc_now
from workers import Status

_CHECKS = core_table(AvailabilityCheck)  # rows written in bulk, without ORM objects
_TARGETS = core_table(Target)


@dataclass(frozen=True, kw_only=True)
class CheckOutcome:
    previous: str
    current: str

    @property
    def changed(self) -> bool:
        return self.previous != self.current


@dataclass(frozen=True, kw_only=True)
class RecentCheck:
    """One stored answer, as the state rule reads it."""

    status: str
    checked_at: datetime


def _kind(status: str) -> str:
    try:
        return Status(status).kind
    except ValueError:
        return "inconclusive"


def next_state(previous: str, status: Status, recent: Sequence[RecentCheck], *,
               confirmations: int, confirm_after: float) -> str | None:
    """The state a target in ``previous`` moves to on ``status``, or None if it stays.

    ``recent``: the target's latest checks, newest first, this one included; only a
    down answer reads them (at most ``confirmations`` of them).

    >>> next_state("available", Status.AVAILABLE, [], confirmations=2, confirm_after=0)
    >>> next_state("unknown", Status.PRIVATE, [], confirmations=2, confirm_after=0)
    'private'
    """
    at_once = status.kind in ("up", "restricted")
    confirmed = status.kind == "down" and _confirmed(recent[:confirmations], confirmations,
                                                     confirm_after)
    if not (at_once or confirmed) or status.value == previous:
        return None
    return status.value


def _confirmed(recent: Sequence[RecentCheck], confirmations: int, confirm_after: float) -> bool:
    """The last ``confirmations`` answers are all down, and spaced enough."""
    all_down = len(recent) >= confirmations and all(_kind(c.status) == "down" for c in recent)
    spaced = bool(recent) and (recent[0].checked_at - recent[-1].checked_at) >= timedelta(
        seconds=confirm_after)
    return all_down and (confirmations <= 1 or spaced)


@dataclass(frozen=True, kw_only=True)
class Answer:
    """One check to store: what a probe (or a capture) said about a target, and when."""

    status: Status
    message: str
    probe: str
    at: datetime
    http_status: int | None = None
    wall: bool = False  # a wall answered, not the link: never changes the state


async def record_check(
    session: AsyncSession,
    target: Target,
    *,
    status: Status,
    message: str,
    probe: str,
    confirmations: int,
    confirm_after: float,
    operator: str,
    http_status: int | None = None,
    now: datetime | None = None,
    wall: bool = False,
) -> CheckOutcome:
    """Store one check and apply the state rule to ``target`` (in the caller's transaction);
    a ``wall`` never changes the state."""
    answer = Answer(status=status, message=message, probe=probe, at=now or utc_now(),
                    http_status=http_status, wall=wall)
    (outcome,) = await record_checks(session, [(target, answer)], confirmations=confirmations,
                                     confirm_after=confirm_after, operator=operator)
    return outcome


class _Checked(Protocol):
    """What the rule reads and sets of a target: a ``Target`` row or a ``TargetState``."""

    @property
    def id(self) -> int | None: ...
    @property
    def key(self) -> str: ...
    status: str
    status_since: datetime | None
    last_status: str | None
    last_message: str | None
    last_checked_at: datetime | None


async def record_checks(
    session: AsyncSession,
    checks: Sequence[tuple[Target, Answer]],
    *,
    confirmations: int,
    confirm_after: float,
    operator: str,
) -> list[CheckOutcome]:
    """Store ``checks`` (one per target at most) and apply the state rule to each target,
    in order, in the caller's transaction: what ``record_check`` does one at a time, in
    one multi-row insert and one read of the latest checks of the targets found down."""
    outcomes = await _record(session, checks, confirmations=confirmations,
                             confirm_after=confirm_after, operator=operator)
    for target, _ in checks:
        session.add(target)
    return outcomes


@dataclass(kw_only=True)
class TargetState:
    """What an audit reads and writes of a target (``target_states``, ``record_answers``):
    a plain value instead of a ``Target`` row, the rule sets its fields as it would the row's."""

    id: int
    key: str
    status: str
    status_since: datetime | None
    created_at: datetime
    last_status: str | None = None
    last_message: str | None = None
    last_checked_at: datetime | None = None


async def target_states(session: AsyncSession, keys: Sequence[str]) -> dict[str, TargetState]:
    """The targets of ``keys`` that exist, by key, in one query."""
    t = _TARGETS.c
    rows = await session.execute(sa.select(t.id, t.key, t.status, t.status_since, t.created_at)
                                 .where(t.key.in_(keys)))
    return {key: TargetState(id=id_, key=key, status=status, status_since=since, created_at=made)
            for id_, key, status, since, made in rows}


async def record_answers(
    session: AsyncSession,
    checks: Sequence[tuple[TargetState, Answer]],
    *,
    next_check: Callable[[TargetState, Answer], datetime],
    confirmations: int,
    confirm_after: float,
    operator: str,
) -> list[CheckOutcome]:
    """``record_checks`` for an audit's batch: the rule applied to each ``TargetState``,
    then each target's latest fields, state and ``next_check`` (called once the state is
    updated) written in one multi-row ``UPDATE`` by id, in the caller's transaction."""
    outcomes = await _record(session, checks, confirmations=confirmations,
                             confirm_after=confirm_after, operator=operator)
    if checks:
        t = _TARGETS.c
        await session.execute(
            sa.update(_TARGETS).where(t.id == sa.bindparam("b_id")).values(
                last_status=sa.bindparam("b_last_status"),
                last_message=sa.bindparam("b_last_message"),
                last_checked_at=sa.bindparam("b_last_checked_at"),
                status=sa.bindparam("b_status"), status_since=sa.bindparam("b_status_since"),
                next_check_at=sa.bindparam("b_next_check_at")),
            [{"b_id": s.id, "b_last_status": s.last_status, "b_last_message": s.last_message,
              "b_last_checked_at": s.last_checked_at, "b_status": s.status,
              "b_status_since": s.status_since, "b_next_check_at": next_check(s, a)}
             for s, a in checks])
    return outcomes


async def _record(session: AsyncSession, checks: Sequence[tuple[_Checked, Answer]], *,
                  confirmations: int, confirm_after: float, operator: str
                  ) -> list[CheckOutcome]:
    """The checks inserted, the latest checks of the down ones read, the rule applied."""
    ids = [_id(target) for target, _ in checks]
    if len(set(ids)) != len(ids):  # the latest checks read below would mix two answers
        raise ValueError("record_checks: at most one check per target")
    if not checks:
        return []
    await session.execute(sa.insert(_CHECKS), [
        {"target_id": i, "checked_at": a.at, "status": a.status.value,
         "http_status": a.http_status, "message": a.message[:4000], "probe": a.probe}
        for i, (_, a) in zip(ids, checks, strict=True)])
    down = [i for i, (_, a) in zip(ids, checks, strict=True) if a.status.kind == "down"]
    recent = await _recent(session, down, confirmations) if down else {}
    outcomes, events = [], []
    for i, (target, answer) in zip(ids, checks, strict=True):
        outcome, event = _apply(target, answer, recent.get(i, []), confirmations=confirmations,
                                confirm_after=confirm_after, operator=operator)
        outcomes.append(outcome)
        if event is not None:
            events.append(event)
    await record_events(session, events)  # one statement, in the answers' order
    return outcomes


def _id(target: _Checked) -> int:
    assert target.id is not None
    return target.id


def _apply(target: _Checked, answer: Answer, recent: Sequence[RecentCheck], *,
           confirmations: int, confirm_after: float, operator: str
           ) -> tuple[CheckOutcome, dict[str, Any] | None]:
    """The rule for one stored answer: ``target``'s latest fields, its new state, and the
    row of its custody event if the state changed."""
    message, now = answer.message[:4000], answer.at
    target.last_status = answer.status.value
    target.last_message = message
    target.last_checked_at = now
    previous = target.status
    new = None if answer.wall else next_state(previous, answer.status, recent,
                                              confirmations=confirmations,
                                              confirm_after=confirm_after)
    event = None
    if new is not None:
        target.status = new
        target.status_since = now
        event = event_row(action=EventAction.AVAILABILITY_CHANGED, subject=target.key,
                          operator=operator, time=now,
                          details={"from": previous, "to": new, "probe": answer.probe,
                                   "message": message})
    return CheckOutcome(previous=previous, current=new or previous), event


async def _recent(session: AsyncSession, target_ids: Sequence[int], n: int
                  ) -> dict[int, list[RecentCheck]]:
    """Each target's last ``n`` checks, newest first (the ones just inserted included), in
    one query: a window numbers each target's checks."""
    c = _CHECKS.c
    place = sa.func.row_number().over(partition_by=c.target_id,
                                      order_by=(c.checked_at.desc(), c.id.desc())).label("place")
    ranked = (sa.select(c.target_id, c.status, c.checked_at, place)
              .where(c.target_id.in_(target_ids)).subquery())
    rows = await session.execute(
        sa.select(ranked.c.target_id, ranked.c.status, ranked.c.checked_at)
        .where(ranked.c.place <= n).order_by(ranked.c.target_id, ranked.c.place))
    found: dict[int, list[RecentCheck]] = {}
    for target_id, status, checked_at in rows:
        found.setdefault(target_id, []).append(RecentCheck(status=status, checked_at=checked_at))
    return found
