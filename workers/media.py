"""Media capture with yt-dlp, in a killable child process.

``capture_media(job)`` downloads whatever yt-dlp finds at ``job.url`` into
``job.work_dir`` and says what it got: files with their roles, the platform's
metadata, and on failure the platform's own words mapped to a status.

Why a child process: a thread cannot be stopped and yt-dlp's
``socket_timeout`` bounds one socket operation, not a job. The child is forked
from a ``forkserver`` that has already imported yt-dlp and compiled its URL
patterns (a small local job takes about 0.25 s here, against 1.3 s with
``spawn``, which re-imports yt-dlp every time; see ``_procs``); on expiry of
``job.limits.timeout_seconds`` its whole process group (ffmpeg included) gets
SIGTERM, then SIGKILL. The ``YoutubeDL`` object is built in the child (it
cannot be pickled) and the child answers with one JSON report.

Bounds enforced here: the wall-clock deadline; ``max_bytes`` per file, by
yt-dlp's ``max_filesize`` (declared sizes), by a progress hook (bytes
received, for streams of unknown size), and by a watchdog on the work
directory (anything else yt-dlp writes, such as thumbnails); non-public
addresses, by ``_netguard`` inside the child. Partial downloads
(``*.part``, ``*.ytdl``, ``*.part-Frag*``, ``*.temp.*``) are deleted and never
listed.

    outcome = await capture_media(job)
    if outcome.status is Status.AVAILABLE and not outcome.no_media:
        for f in outcome.files: ...   # hash and store
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from storage._base import KnownDigest
from workers._media_digests import known_digests
from workers._media_files import list_files
from workers._media_responses import checked
from workers._procs import run_child
from workers.errors import CaptureFailed, StoreFailed
from workers.types import CaptureJob, Status, too_large_message

__all__ = ["MediaFile", "MediaOutcome", "capture_media"]

log = logging.getLogger(__name__)

_MAX_REPORT = 64 * 1024 * 1024  # the child's JSON report (metadata of one video is ~1 MB)
_WATCH_INTERVAL = 0.25  # seconds between work-directory size checks
_EXIT_GRACE = 2.0  # seconds a child that has answered gets to exit on its own
_STATUSES = frozenset(s.value for s in Status)


@dataclass(frozen=True, kw_only=True)
class MediaFile:
    """One file yt-dlp left in the work directory."""

    path: Path  # inside job.work_dir
    role: str  # media | component | info | thumbnail | subtitle | description | other
    media_type: str  # from the extension (an HLS capture kept as MPEG-TS says video/mp2t)
    # its digest as the capture child wrote it (workers._media_hashing), for the store to
    # use instead of reading the file again while the file is unchanged; None: read it
    known: KnownDigest | None = None


@dataclass(frozen=True, kw_only=True)
class MediaOutcome:
    """What a media capture got, and what it means for the link."""

    status: Status
    message: str  # the platform's own words when it failed; "" on success
    transient: bool  # worth retrying: network errors, 5xx, 429/bot checks, timeouts
    files: tuple[MediaFile, ...]
    metadata: dict[str, Any]  # ydl.sanitize_info(info), raw: sanitize before storing
    resolved_url: str | None  # info['webpage_url']
    no_media: bool  # yt-dlp found no media at this URL; for a web link not a failure
    warnings: tuple[str, ...] = ()  # yt-dlp's warnings, for the log
    not_checked: tuple[str, ...] = ()  # checks of wholeness that could not run (no ffprobe)
    # the download's own HTTP responses (workers._media_responses): the manifest's
    # collection record "media_response"; empty when the child gave no report
    responses: tuple[dict[str, Any], ...] = ()
    # YouTube targets: the PO-token providers the capture process had loaded
    # (workers.plugins), for the manifest's access record; never a secret
    po_token_providers: tuple[str, ...] = ()
    wall: bool = False  # yt-dlp met a wall (a bot check, a login wall): ``classify``


def _in_child(job: CaptureJob, ffmpeg: str | None, conn: Connection) -> None:
    """The capture process's entry point, ``_media_child.main``, imported there: this
    process never loads yt-dlp (the forkserver has it loaded; ``workers._procs``)."""
    from workers import _media_child

    _media_child.main(job, ffmpeg, conn)


async def capture_media(job: CaptureJob) -> MediaOutcome:
    """Capture the media at ``job.url`` into ``job.work_dir``.

    Never raises for anything the link or the network does: every failure is
    a status. A failure of this machine (the work directory's disk full,
    read-only or failing: ``classify.local_failure``) raises ``StoreFailed``, as
    the store's own failures do: it says nothing about the link. Cancelling the
    task kills the child process.
    """
    limit = job.limits.timeout_seconds
    report: dict[str, Any] | None = None
    failure = ("", False)  # (message, transient) when there is no report

    def watch() -> None:
        if _largest_file(job.work_dir) > 2 * job.limits.max_bytes + (1 << 20):
            raise _Oversized

    try:
        report = await run_child(
            _in_child, (job, job.ffmpeg), name=f"preserver-media-{job.job_id}",
            timeout=limit, limit=_MAX_REPORT, parse=_parse, what="capture process",
            grace=_EXIT_GRACE, watch=watch, watch_interval=_WATCH_INTERVAL,
        )
    except TimeoutError:
        failure = (f"timed out after {limit:g} s", True)
    except _Oversized:
        failure = (too_large_message(job.limits.max_bytes), False)
    except CaptureFailed as exc:
        failure = (str(exc), False)
    return _outcome(job, report, failure)


def _outcome(
    job: CaptureJob, report: dict[str, Any] | None, failure: tuple[str, bool]
) -> MediaOutcome:
    if report is not None and report.get("local"):
        raise StoreFailed(f"media not kept: {report.get('message', '')}")
    roles = {str(k): str(v) for k, v in report["roles"].items()} if report else {}
    known = known_digests(report.get("digests"), job.work_dir) if report else {}
    files = tuple(
        MediaFile(path=path, role=role, media_type=media_type,
                  known=known.get(str(path.relative_to(job.work_dir))))
        for path, role, media_type in list_files(job.work_dir, roles)
    )
    if report is None:
        message, transient = failure
        return MediaOutcome(status=Status.ERROR, message=message, transient=transient,
                            files=files, metadata={}, resolved_url=None, no_media=False)
    status = Status(report["status"])
    message = str(report.get("message", ""))
    if status is Status.AVAILABLE and not report.get("no_media") and not any(
        f.role == "media" for f in files
    ):
        status, message = Status.ERROR, "yt-dlp finished without downloading a media file"
    warnings = tuple(str(w) for w in report.get("warnings", []))
    for w in warnings:
        log.info("job %s: yt-dlp: %s", job.job_id, w)
    not_checked = tuple(str(n) for n in report.get("not_checked", []))
    for n in not_checked:
        log.warning("job %s: %s", job.job_id, n)
    return MediaOutcome(
        status=status,
        message=message,
        transient=bool(report.get("transient")),
        files=files,
        metadata=report["metadata"],
        resolved_url=report.get("resolved_url"),
        no_media=bool(report.get("no_media")),
        wall=bool(report.get("wall")) and status is not Status.AVAILABLE,
        warnings=warnings,
        not_checked=not_checked,
        responses=checked(report.get("responses")),
        po_token_providers=_names(report.get("po_token_providers")),
    )


def _names(value: object) -> tuple[str, ...]:
    """A list of short names from the child's report; anything else is dropped."""
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str) and 0 < len(v) <= 100)[:20]


class _Oversized(Exception):
    """The watchdog saw a file in the work directory grow past the limit."""


def _parse(data: bytes) -> dict[str, Any]:
    """The child's JSON report, checked for the fields ``_outcome`` reads."""
    try:
        report = json.loads(data)
    except ValueError as exc:
        raise CaptureFailed(f"capture process sent an unreadable result: {exc}") from exc
    if not (
        isinstance(report, dict)
        and report.get("status") in _STATUSES
        and isinstance(report.get("roles"), dict)
        and isinstance(report.get("metadata"), dict)
    ):
        raise CaptureFailed("capture process sent a result of the wrong shape")
    return report


def _largest_file(directory: Path) -> int:
    """Size of the largest file under ``directory`` (the watchdog's measure).

    Twice ``max_bytes`` plus slack: a merge of two in-limit streams may be
    larger than either; the progress hook stops downloads at ``max_bytes``.
    """
    largest = 0
    for root, _dirs, names in os.walk(directory):
        for name in names:
            with contextlib.suppress(OSError):  # renamed or deleted meanwhile
                largest = max(largest, os.stat(os.path.join(root, name)).st_size)
    return largest
