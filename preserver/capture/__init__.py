"""Capture: the run that claims queued jobs, hands each to ``workers.capture``
and records what comes back.

- ``run``: ``run_jobs`` — the worker pool (``CaptureWorker``: global and per-host
  limits, retries);
- ``record``: one job's result as rows, a signed manifest and a custody event;
- ``browser``: the run's one Chromium (``open_browser``).

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.capture.record import JobRecord, build_manifest, record_result
    from preserver.capture.run import (
        CaptureWorker,
        JobEvent,
        RecoveredRun,
        RunSummary,
        run_jobs,
    )

__all__ = [
    "CaptureWorker",
    "JobEvent",
    "JobRecord",
    "RecoveredRun",
    "RunSummary",
    "build_manifest",
    "record_result",
    "run_jobs",
]

__getattr__, __dir__ = exports(__name__)
