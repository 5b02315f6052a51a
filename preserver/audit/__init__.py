"""Audits: are the cited links still up?

- ``runner``: ``audit`` — probe the targets due, record every answer, schedule the next;
- ``schedule``: when each target is checked next (pure functions);
- ``availability``: the state rule (``next_state``, pure: down only after
  confirmations; inconclusive answers never change a state) and recording one check;
- ``notify``: a lost link's webhook and Wayback snapshot lookup.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.audit.availability import CheckOutcome, RecentCheck, next_state, record_check
    from preserver.audit.notify import closest_snapshot, on_lost, post_webhook
    from preserver.audit.runner import AuditSummary, audit
    from preserver.audit.schedule import next_check

__all__ = [
    "AuditSummary",
    "CheckOutcome",
    "RecentCheck",
    "audit",
    "closest_snapshot",
    "next_check",
    "next_state",
    "on_lost",
    "post_webhook",
    "record_check",
]

__getattr__, __dir__ = exports(__name__)
