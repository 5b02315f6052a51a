"""Capture and probe workers: yt-dlp media, WARC page snapshots, availability probes,
network safety, the platform table, per-host politeness and retry decisions; and
printing a self-contained page to PDF with the captures' Chromium (``print_pdf``).

A worker takes a frozen ``CaptureJob`` and a blob store and returns a frozen
``CaptureResult``; it never touches the database. Each name's module is imported on
first use (``workers/_lazy.py``): ``from workers import Status`` loads no yt-dlp.

    >>> async with make_client(allow_private=False) as http:
    ...     result = await capture(job, store, http)
    >>> result.state, result.status, [f.sha256 for f in result.files]
"""

from typing import TYPE_CHECKING

from workers._lazy import exports

if TYPE_CHECKING:
    from workers._media_whole import find_ffprobe
    from workers._procs import start_capture_server
    from workers.access import Access, seen_as
    from workers.browser import Browser, BrowserSettings, BrowserUnavailable
    from workers.capture import capture
    from workers.classify import Classified, classify
    from workers.cookies import read_cookies
    from workers.errors import (
        AddressRefused,
        CaptureFailed,
        CookiesFileError,
        PrintFailed,
        StoreFailed,
        WorkerError,
    )
    from workers.lifetime import process_start
    from workers.limits import HostLimiter, host_group
    from workers.net import make_client
    from workers.platforms import (
        HostRole,
        Platform,
        PlatformHost,
        cited_hosts,
        platform_host,
        platform_url,
        youtube_watch_url,
    )
    from workers.plugins import Plugin, Plugins, load_plugins, loaded_plugins, po_token_providers
    from workers.printing import Printer, print_pdf
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
    from workers.userinfo import redact_userinfo, scrub_userinfo, without_userinfo

__all__ = [
    "Access",
    "AddressRefused",
    "Browser",
    "BrowserSettings",
    "BrowserUnavailable",
    "CaptureFailed",
    "CaptureJob",
    "CaptureResult",
    "CaptureState",
    "CapturedFile",
    "Classified",
    "CookiesFileError",
    "HostLimiter",
    "HostRole",
    "Limits",
    "Platform",
    "PlatformHost",
    "Plugin",
    "Plugins",
    "PrintFailed",
    "Printer",
    "ProbeResult",
    "ProbeSettings",
    "ProbeTarget",
    "RateLimiter",
    "RetryDecision",
    "Status",
    "StoreFailed",
    "WorkerError",
    "capture",
    "cited_hosts",
    "classify",
    "decide_retry",
    "find_ffprobe",
    "host_group",
    "load_plugins",
    "loaded_plugins",
    "make_client",
    "platform_host",
    "platform_url",
    "po_token_providers",
    "print_pdf",
    "probe",
    "process_start",
    "read_cookies",
    "redact_userinfo",
    "scrub_userinfo",
    "seen_as",
    "start_capture_server",
    "without_userinfo",
    "youtube_watch_url",
]

__getattr__, __dir__ = exports(__name__)
