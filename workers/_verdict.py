"""What a capture amounts to: its state, status, message and whether to try again.

From the three parts of one attempt (the page snapshot, the media, the browser) and the
files stored (``workers.capture`` step 3):

- youtube/facebook: ``complete`` when the media is stored; ``partial`` when only other
  files (the page, a thumbnail) are; ``failed`` when nothing is. The status is the
  media outcome's (the platform's words).
- web: ``complete`` when the page was captured with a 2xx and any media found was
  stored too (no media at all is fine); ``partial`` when something was stored;
  ``failed`` otherwise, with the page's status.
- ``transient`` (worth a retry): the media's verdict, or for a capture that kept
  nothing, the page's.
- a wall (yt-dlp's bot check or login wall; a login wall in the page snapshot or, for
  the browser's DOM, a facebook login form) where the content should be: status
  ``bot_check``/``login_required``, message ``wall (…): …``, transient, never
  ``complete``. The wall's page snapshot and browser files are kept: evidence of the
  wall, not of the post.
- a capture whose browser part is missing something is at most ``partial``.
"""

from __future__ import annotations

import logging

from storage._base import BlobStore
from storage.errors import StorageError
from workers.browser import BrowserOutcome
from workers.media import MediaOutcome
from workers.page import PageOutcome
from workers.types import CapturedFile, CaptureJob, CaptureState, Status
from workers.walls import MAX_BYTES as WALL_BYTES
from workers.walls import login_wall

__all__ = ["judge", "with_browser"]

log = logging.getLogger(__name__)

Verdict = tuple[CaptureState, Status, str, bool]  # state, status, message, transient


def with_browser(state: CaptureState, message: str,
                  browser: BrowserOutcome | None) -> tuple[CaptureState, str]:
    """A capture whose browser part is missing something is at most partial."""
    if browser is None or browser.complete:
        return state, message
    note = f"browser: {browser.message}"
    if state is CaptureState.COMPLETE:
        return CaptureState.PARTIAL, note
    return state, f"{message}; {note}" if message else note


def _dom_wall(job: CaptureJob, store: BlobStore, files: list[CapturedFile]) -> str | None:
    """A login wall in the rendered page (a ``facebook`` target's login form that
    scripts drew where the post should be), read from the first bytes of the stored DOM."""
    for f in files:
        if f.role == "dom":
            try:
                with store.open(f.sha256) as dom:
                    head = dom.read(WALL_BYTES)
            except (OSError, StorageError):
                log.debug("DOM of %s not readable", job.target_key, exc_info=True)
                return None
            return login_wall(head, url=job.url, platform=job.platform)
    return None


def _wall(page: PageOutcome, media: MediaOutcome, dom: str | None) -> tuple[Status, str] | None:
    """(status, message) of the wall this capture met, or None: yt-dlp's words first
    (a bot check, a login wall), else the page's or the rendered DOM's login wall."""
    if media.wall:
        kind = "bot check" if media.status is Status.BOT_CHECK else "login"
        return media.status, f"wall ({kind}): {media.message}"
    if media.status is not Status.AVAILABLE:  # yt-dlp's own failure stands (a broken
        return None  # cookies file, the network): the page alone does not outweigh it
    reason = page.wall or dom
    if reason is not None:
        return Status.LOGIN_REQUIRED, f"wall (login): {reason}"
    return None


def _media_ok(media: MediaOutcome, files: list[CapturedFile]) -> bool:
    return media.status is Status.AVAILABLE and any(f.role == "media" for f in files)


def _content(job: CaptureJob, media: MediaOutcome, files: list[CapturedFile]) -> bool:
    """A youtube/facebook capture whose media was stored holds the post, whatever its
    page showed: Facebook's page carries a login form for anonymous viewers even
    where the video plays."""
    return job.platform != "web" and _media_ok(media, files)


def _walled(media: MediaOutcome, files: list[CapturedFile],
            wall: tuple[Status, str]) -> Verdict:
    """A wall is never ``complete``: ``partial`` only when media was really stored (a
    web page that is a login form, around a video yt-dlp still got), else ``failed``;
    always transient, so it is tried again later."""
    state = CaptureState.PARTIAL if _media_ok(media, files) else CaptureState.FAILED
    return state, wall[0], wall[1], True


def judge(job: CaptureJob, page: PageOutcome, media: MediaOutcome, files: list[CapturedFile],
           store: BlobStore) -> tuple[bool, Verdict]:
    """(walled, (state, status, message, transient)): a wall's verdict, or ``_decide``'s."""
    wall = _wall(page, media, _dom_wall(job, store, files))
    if wall is not None and not _content(job, media, files):
        return True, _walled(media, files, wall)
    return False, _decide(job, page, media, files)


def _decide(
    job: CaptureJob, page: PageOutcome, media: MediaOutcome, files: list[CapturedFile]
) -> Verdict:
    """(state, status, message, transient) from both parts and what was stored, when no
    wall stood in the way (``_walled``)."""
    media_ok = _media_ok(media, files)
    page_ok = page.status is Status.AVAILABLE
    # content, not just evidence of a failure (a stored 404 response is not content)
    stored = media_ok or (page_ok and any(f.role == "page" for f in files))
    if job.platform != "web":
        if media_ok:
            return CaptureState.COMPLETE, Status.AVAILABLE, "", False
        status, message = media.status, media.message
        if status is Status.AVAILABLE:  # yt-dlp found nothing to download
            status, message = Status.UNKNOWN, message or "no media found at this link"
        state = CaptureState.PARTIAL if stored else CaptureState.FAILED
        return state, status, message, media.transient or (page.transient and not stored)
    if page_ok and (media.no_media or media_ok):
        return CaptureState.COMPLETE, Status.AVAILABLE, "", False
    if page_ok:  # the page is here; media was found but not captured
        return CaptureState.PARTIAL, Status.AVAILABLE, f"media: {media.message}", media.transient
    status = Status.AVAILABLE if media_ok else page.status
    state = CaptureState.PARTIAL if stored else CaptureState.FAILED
    return state, status, page.message, media.transient or (page.transient and not stored)
