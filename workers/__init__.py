"""Capture and probe workers: yt-dlp media, WARC page snapshots, availability probes,
network safety, per-host politeness and retry decisions.

A worker takes a frozen ``CaptureJob`` and a blob store and returns a frozen
``CaptureResult``; it never touches the database.

    >>> async with make_client(allow_private=False) as http:
    ...     result = await capture(job, store, http)
    >>> result.state, result.status, [f.sha256 for f in result.files]
"""

from workers.capture import capture
from workers.classify import Classified, classify
from workers.errors import AddressRefused, CaptureFailed, StoreFailed, WorkerError
from workers.limits import HostLimiter, host_group
from workers.net import make_client
from workers.probes import ProbeResult, ProbeSettings, ProbeTarget, RateLimiter, probe
from workers.retry import RetryDecision, decide_retry
from workers.types import (
    CapturedFile,
    CaptureJob,
    CaptureResult,
    CaptureState,
    Limits,
    Status,
)

__all__ = [
    "AddressRefused",
    "CaptureFailed",
    "CaptureJob",
    "CaptureResult",
    "CaptureState",
    "CapturedFile",
    "Classified",
    "HostLimiter",
    "Limits",
    "ProbeResult",
    "ProbeSettings",
    "ProbeTarget",
    "RateLimiter",
    "RetryDecision",
    "Status",
    "StoreFailed",
    "WorkerError",
    "capture",
    "classify",
    "decide_retry",
    "host_group",
    "make_client",
    "probe",
]
