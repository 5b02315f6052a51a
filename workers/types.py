"""Values that cross the boundary between ``preserver`` and the workers.

A worker receives a frozen ``CaptureJob`` and a blob store, and returns a frozen
``CaptureResult``. Workers never touch the database; ``preserver`` records the
result. Availability statuses are the contract list of docs/design.md "Availability statuses".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.access import Access


class Status(enum.StrEnum):
    """Availability status of a link (docs/design.md, "Availability statuses")."""

    AVAILABLE = "available"
    # down
    REMOVED_UPLOADER = "removed_uploader"
    REMOVED_POLICY = "removed_policy"
    REMOVED_COPYRIGHT = "removed_copyright"
    ACCOUNT_TERMINATED = "account_terminated"
    NOT_FOUND = "not_found"
    # restricted
    PRIVATE = "private"
    GEO_BLOCKED = "geo_blocked"
    AGE_RESTRICTED = "age_restricted"
    LOGIN_REQUIRED = "login_required"
    MEMBERS_ONLY = "members_only"
    # inconclusive
    BOT_CHECK = "bot_check"  # a bot wall: "Sign in to confirm you're not a bot", captcha
    RATE_LIMITED = "rate_limited"
    ERROR = "error"
    UNKNOWN = "unknown"

    @property
    def kind(self) -> str:
        """One of ``up``, ``down``, ``restricted``, ``inconclusive``."""
        return _KIND[self]

    @property
    def conclusive(self) -> bool:
        return _KIND[self] != "inconclusive"


_KIND: dict[Status, str] = {
    Status.AVAILABLE: "up",
    Status.REMOVED_UPLOADER: "down",
    Status.REMOVED_POLICY: "down",
    Status.REMOVED_COPYRIGHT: "down",
    Status.ACCOUNT_TERMINATED: "down",
    Status.NOT_FOUND: "down",
    Status.PRIVATE: "restricted",
    Status.GEO_BLOCKED: "restricted",
    Status.AGE_RESTRICTED: "restricted",
    Status.LOGIN_REQUIRED: "restricted",
    Status.MEMBERS_ONLY: "restricted",
    Status.BOT_CHECK: "inconclusive",
    Status.RATE_LIMITED: "inconclusive",
    Status.ERROR: "inconclusive",
    Status.UNKNOWN: "inconclusive",
}


class CaptureState(enum.StrEnum):
    """How much of a target a capture holds (manifest ``outcome.state``)."""

    COMPLETE = "complete"  # media (or, for web targets, the page) captured
    PARTIAL = "partial"  # some evidence (e.g. the page snapshot) but not the media
    FAILED = "failed"  # no content; evidence of the failure (e.g. the 404 response) may be kept


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Bounds on one capture job."""

    max_bytes: int  # per downloaded file
    timeout_seconds: float  # wall-clock limit for the whole job
    socket_timeout_seconds: float = 20.0
    max_redirects: int = 10
    page_max_bytes: int = 20 * 1024 * 1024  # page body kept in the WARC; longer is truncated


def too_large_message(max_bytes: int) -> str:
    """The message of a download stopped at ``max_bytes`` (the capture process's and the
    watchdog's, in preserver's process)."""
    return f"larger than the limit of {max_bytes} bytes"


@dataclass(frozen=True, kw_only=True)
class CaptureJob:
    """Everything a worker needs to capture one target."""

    job_id: int
    capture_id: str  # uuid4 hex form with dashes; names the capture in its manifest
    target_key: str  # e.g. "youtube:45WIwFETn3E"
    url: str  # the canonical URL to capture
    platform: str  # "youtube" | "facebook" | "web"
    work_dir: Path  # empty directory on the blob store's filesystem, owned by this job
    limits: Limits
    allow_private: bool = False  # network.allow_private: every non-public address allowed
    allow_networks: tuple[str, ...] = ()  # network.allow_networks: CIDRs allowed though not public
    user_agent: str | None = None  # network.user_agent for page snapshots; None: httpx/yt-dlp default
    ffmpeg: str | None = None  # path to ffmpeg, or None when absent
    cache_dir: Path | None = None  # yt-dlp cache directory
    key_id: str = ""  # the archive's signing key id, stamped on the screenshot's banner
    access: Access = field(default_factory=Access)  # [access.<group>]: session, proxy
    source_address: str | None = None  # network.source_address: connect from this local IP


@dataclass(frozen=True, kw_only=True)
class CapturedFile:
    """One file of a capture, already in the blob store."""

    role: str  # media | info | thumbnail | subtitle | page | component | ...
    name: str  # built from the platform id and role, never from titles
    sha256: str
    size: int
    media_type: str


@dataclass(frozen=True, kw_only=True)
class CaptureResult:
    """What a worker returns for one job."""

    state: CaptureState
    status: Status
    message: str  # the platform's own words when it failed; "" otherwise
    files: tuple[CapturedFile, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)  # title, uploader, upload_date, ...
    resolved_url: str | None = None  # final URL after redirects, when known
    started_at: str = ""  # RFC 3339 UTC "...Z"
    finished_at: str = ""
    transient: bool = False  # worth retrying (network error, 5xx, 429)
    # a wall stood where the content should be (a bot check, a login wall): the capture
    # holds evidence of the wall, not of the link (docs/design.md "Walls")
    wall: bool = False
    # what the worker saw of how the content was collected (the manifest's collection
    # record, docs/design.md "Collection record"): "page" (server address, TLS chain
    # file), "media_response" (status and headers), "browser" (what the browser did)
    collection: dict[str, Any] = field(default_factory=dict)
