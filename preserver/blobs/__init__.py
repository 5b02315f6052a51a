"""The blob store as a whole.

- ``migrate``: ``migrate_blobs`` — copy a local archive's blobs into its S3 bucket,
  checking each one (``preserver storage migrate``);
- ``gc``: ``find_garbage`` — the blobs nothing names (``preserver gc --dry-run``).

Public names are imported on first use (``preserver._lazy``): boto3 loads only for
``migrate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.blobs.gc import Garbage, GcReport, find_garbage
    from preserver.blobs.migrate import MigrateSummary, migrate_blobs

__all__ = ["Garbage", "GcReport", "MigrateSummary", "find_garbage", "migrate_blobs"]

__getattr__, __dir__ = exports(__name__)
