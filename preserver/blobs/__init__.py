"""Work on the blob store as a whole: copy a local archive's blobs into an S3 bucket
(``migrate``), list the blobs nothing names (``gc``)."""

from __future__ import annotations

from preserver.blobs.gc import Garbage, GcReport, find_garbage
from preserver.blobs.migrate import MigrateSummary, migrate_blobs

__all__ = ["Garbage", "GcReport", "MigrateSummary", "find_garbage", "migrate_blobs"]
