"""Availability state of targets: every check is a row; the state changes only on
conclusive evidence (docs/design.md "Availability statuses", contract).

- ``next_state``, the rule, a pure function:
  - an inconclusive result (``rate_limited``, ``error``, ``unknown``) never changes
    the state;
  - ``available`` and restricted results change it at once;
  - a down result changes it only when the last ``confirmations`` checks are all
    down and the first and last of them are at least ``confirm_after`` apart.
- ``record_check`` stores one check and applies the rule; each change is a custody
  event. A wall (``wall=True``: a bot check or a login wall stood where the link's
  answer should be, docs/design.md "Walls") is stored as a check and never changes
  the state, whatever its status: a login wall we were shown is not the link
  becoming ``login_required``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from preserver.custody.events import EventAction, record_event
from preserver.db.models import AvailabilityCheck, Target, utc_now
from workers import Status


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
    now = now or utc_now()
    assert target.id is not None
    session.add(AvailabilityCheck(target_id=target.id, checked_at=now, status=status.value,
                                  http_status=http_status, message=message[:4000], probe=probe))
    target.last_status = status.value
    target.last_message = message[:4000]
    target.last_checked_at = now
    previous = target.status
    recent = await _recent(session, target.id, confirmations) if status.kind == "down" else ()
    new = None if wall else next_state(previous, status, recent, confirmations=confirmations,
                                       confirm_after=confirm_after)
    if new is not None:
        target.status = new
        target.status_since = now
        await record_event(session, action=EventAction.AVAILABILITY_CHANGED, subject=target.key,
                           operator=operator,
                           details={"from": previous, "to": new, "probe": probe,
                                    "message": message[:4000]}, time=now)
    session.add(target)
    return CheckOutcome(previous=previous, current=new or previous)


async def _recent(session: AsyncSession, target_id: int, n: int) -> list[RecentCheck]:
    """The target's last ``n`` checks, newest first (the one just added included)."""
    await session.flush()
    rows = (await session.scalars(
        select(AvailabilityCheck)
        .where(col(AvailabilityCheck.target_id) == target_id)
        .order_by(col(AvailabilityCheck.checked_at).desc(), col(AvailabilityCheck.id).desc())
        .limit(n)
    )).all()
    return [RecentCheck(status=r.status, checked_at=r.checked_at) for r in rows]
