"""When each target is checked next: pure functions of the answer, the target and the
time given (no database, no clock of their own).

- ``confirm_after`` after a fresh down answer (to confirm it), within hours after an
  inconclusive one;
- otherwise often for targets new or changed within ``audit.recent``, rarely for
  stable ones, at a point of the target's own grid: ``EPOCH + slot * interval +
  n * interval``, where ``slot(key)`` is fixed by a hash of the key. Checks then
  spread over the day and the week instead of arriving together, and keep their
  place (``bench/audit_spread.py`` shows it for 10,000 links ingested at once).
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Protocol

from preserver.config import Config
from workers import Status

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # where every target's grid of check times starts


class Scheduled(Protocol):
    """What the schedule reads of a target (a ``Target`` row has it)."""

    @property
    def key(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def status_since(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...


def slot(key: str) -> float:
    """A fraction in [0, 1) fixed by ``key``: where in each interval its checks fall."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") / 2**32


def next_check(config: Config, target: Scheduled, result: Status, now: datetime) -> datetime:
    """When to check ``target`` again after ``result`` (``target`` already updated by it).

    - A fresh down answer: after ``confirm_after`` (to 1.25 times it), so the answers
      that confirm it are spaced as the state rule demands.
    - An inconclusive one: again within 3 to 6 hours (or ``interval_recent``).
    - Otherwise every ``interval_recent`` for targets new or changed within ``recent``,
      every ``interval_stable`` for the others, at a point of the target's own grid:
      ``EPOCH + slot * interval + n * interval`` with ``slot`` fixed by a hash of its key.
      Checks then keep their place in the day (or week) however many targets arrived
      together, and the next one comes at least ``min(interval / 2, interval_recent)``
      after this one.
    """
    audit = config.audit
    place = slot(target.key)
    if result.kind == "down" and target.status != result.value:
        return now + timedelta(seconds=audit.confirm_after * (1 + 0.25 * place))
    if result.kind == "inconclusive":
        return now + timedelta(seconds=min(audit.interval_recent, 6 * 3600.0) * (0.5 + 0.5 * place))
    changed = target.status_since or target.created_at
    recent = (now - changed).total_seconds() < audit.recent
    interval = audit.interval_recent if recent else audit.interval_stable
    earliest = (now - EPOCH).total_seconds() + min(interval / 2, audit.interval_recent)
    n = math.ceil((earliest - place * interval) / interval)
    return EPOCH + timedelta(seconds=(n + place) * interval)
