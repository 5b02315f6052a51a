"""The independent witness: each captured URL also submitted to the Internet Archive's
Save Page Now, its snapshot recorded as a ``witness_saved`` custody event
(docs/design.md "Independent witness").

- ``spn``: the Save Page Now 2 client (``save``: submit, poll, a ``Snapshot`` or
  ``WitnessFailed``) and its keys from the environment;
- ``runner``: ``run_witness`` takes the queued ``witness`` jobs one at a time.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.witness.runner import WitnessSummary, run_witness
    from preserver.witness.spn import Snapshot, SpnKeys, keys_from_env, save

__all__ = [
    "Snapshot",
    "SpnKeys",
    "WitnessSummary",
    "keys_from_env",
    "run_witness",
    "save",
]

__getattr__, __dir__ = exports(__name__)
