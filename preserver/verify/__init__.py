"""Verification, as findings (passed / failed / not_checked per subject and check).

- ``archive``: ``verify_archive`` — every blob re-hashed, every manifest and signature;
- ``fixity``: ``rehash_blobs`` — the re-hash of step (1), on every core, with MB/s progress;
- ``ledger``: the custody ledger against its checkpoints and timestamps;
- ``package``: ``verify_exported`` — an exported package alone, no archive needed.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.verify.archive import verify_archive
    from preserver.verify.ledger import verify_ledger
    from preserver.verify.package import verify_exported

__all__ = [
    "verify_archive",
    "verify_exported",
    "verify_ledger",
]

__getattr__, __dir__ = exports(__name__)
