"""Audits: are the cited links still up?

- ``runner``: ``audit`` — probe the targets due, record every answer, schedule the next;
- ``availability``: the state rule (down only after confirmations; inconclusive
  answers never change a state) and recording one check;
- ``notify``: a lost link's webhook and Wayback snapshot lookup.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.audit.availability import CheckOutcome, record_check
    from preserver.audit.notify import closest_snapshot, on_lost, post_webhook
    from preserver.audit.runner import AuditSummary, audit, next_check

__all__ = [
    "AuditSummary",
    "CheckOutcome",
    "audit",
    "closest_snapshot",
    "next_check",
    "on_lost",
    "post_webhook",
    "record_check",
]

__getattr__, __dir__ = exports(__name__, {
    "AuditSummary": "runner",
    "CheckOutcome": "availability",
    "audit": "runner",
    "closest_snapshot": "notify",
    "next_check": "runner",
    "on_lost": "notify",
    "post_webhook": "notify",
    "record_check": "availability",
})
