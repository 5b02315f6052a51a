"""Availability state of targets: every check is a row; the state changes only on
conclusive evidence (docs/design.md "Availability statuses", contract).

- An inconclusive result (``rate_limited``, ``error``, ``unknown``) never changes
  the state.
- ``available`` and restricted results change it at once.
- A down result changes it only when the last ``confirmations`` checks are all
  down and the first and last of them are at least ``confirm_after`` apart.
Each change is a custody event.
"""

from __future__ import annotations

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


def _kind(status: str) -> str:
    try:
        return Status(status).kind
    except ValueError:
        return "inconclusive"


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
) -> CheckOutcome:
    """Store one check and apply the state rule to ``target`` (in the caller's transaction)."""
    now = now or utc_now()
    assert target.id is not None
    session.add(AvailabilityCheck(target_id=target.id, checked_at=now, status=status.value,
                                  http_status=http_status, message=message[:4000], probe=probe))
    target.last_status = status.value
    target.last_message = message[:4000]
    target.last_checked_at = now
    previous = target.status
    new = previous
    if status.kind in ("up", "restricted"):
        new = status.value
    elif status.kind == "down":
        await session.flush()
        recent = (await session.scalars(
            select(AvailabilityCheck)
            .where(col(AvailabilityCheck.target_id) == target.id)
            .order_by(col(AvailabilityCheck.checked_at).desc(), col(AvailabilityCheck.id).desc())
            .limit(confirmations)
        )).all()
        all_down = len(recent) >= confirmations and all(_kind(c.status) == "down" for c in recent)
        spaced = recent and (recent[0].checked_at - recent[-1].checked_at) >= timedelta(
            seconds=confirm_after)
        if all_down and (confirmations <= 1 or spaced):
            new = status.value
    if new != previous:
        target.status = new
        target.status_since = now
        await record_event(session, action=EventAction.AVAILABILITY_CHANGED, subject=target.key,
                           operator=operator,
                           details={"from": previous, "to": new, "probe": probe,
                                    "message": message[:4000]}, time=now)
    session.add(target)
    return CheckOutcome(previous=previous, current=new)
