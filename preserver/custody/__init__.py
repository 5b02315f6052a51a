"""Custody: every action as an event, the events as an append-only Merkle log,
signed checkpoints of it, and RFC 3161 timestamps on those checkpoints.

- ``events``: ``record_event`` (canonical JSON rows) and ``EventAction``, every action;
- ``ledger``: sequencing, ``make_checkpoint``, timestamping pending checkpoints;
- ``nodes``: the tree head and proofs from the stored subtree hashes (``ledger_nodes``);
- ``tsa``: the trusted TSA roots and asking a TSA for a verified token.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.custody.events import EventAction, actor, record_event, rfc3339
    from preserver.custody.ledger import (
        CheckpointOutcome,
        leaf_hashes,
        make_checkpoint,
        origin,
        sequence_events,
        timestamp_checkpoints,
    )
    from preserver.custody.tsa import SYSTEM_ROOTS, TsaFailed, ask_tsa, trusted_roots

__all__ = [
    "SYSTEM_ROOTS",
    "CheckpointOutcome",
    "EventAction",
    "TsaFailed",
    "actor",
    "ask_tsa",
    "leaf_hashes",
    "make_checkpoint",
    "origin",
    "record_event",
    "rfc3339",
    "sequence_events",
    "timestamp_checkpoints",
    "trusted_roots",
]

__getattr__, __dir__ = exports(__name__)
