"""The capture worker: one job in, page snapshot and media into the blob store, one result out.

docs/style.md, "Workers return results": ``capture(job, store, http)`` writes blobs
and returns a frozen ``CaptureResult``; it never touches the database.

    result = await capture(job, store, http)   # http: workers.net.make_client(...)

Steps:

1. The page snapshot (``workers.page``, WARC into ``<work_dir>/page.warc.gz``)
   and the media capture (``workers.media``, yt-dlp into ``<work_dir>/media/``,
   its own directory so neither sees the other's files) run concurrently, and with a
   ``browser`` the rendered page (``workers.browser``), which first waits for the
   snapshot's final response headers: a direct media link is not rendered, and
   Chromium is not started for it. An unexpected exception in any part is logged
   and counts as an ``error`` outcome for that part; the others still run.
2. Every file produced is moved into the store (``put_file``, each in a thread, all
   at once); a media file with the digest the capture child computed as it wrote it
   (``MediaFile.known``) is not read again if it is unchanged since (docs/design.md
   "Blob store"); the info JSON, rewritten here by ``scrub_info_json``, always is.
   Files are named from the target key and the role, never from remote text:
   ``youtube-45WIwFETn3E.media.mp4``, ``web-<16 hex of sha256(url)>.page.warc.gz``.
   The page WARC is kept when the last response was 2xx.
   An https page's certificate chain is kept as ``<base>.tls.pem`` (role ``tls``).
3. State, status, message and whether to retry (``workers._verdict``): the media's
   outcome decides for youtube/facebook, the page's for web; a wall (a bot check, a
   login wall) where the content should be is never ``complete`` and is retried, its
   page kept as evidence of the wall; a missing browser part makes it ``partial``.
4. The work directory is removed whatever happened (the store has the files).

How the content was seen goes into the collection record as ``access``
(``Access.record``: anonymous or a session's label, direct or through a proxy, never a
secret). With ``proxy_on_failure_only`` step 1 runs direct first and, when the platform
``blocked`` it, again through the proxy; only the second attempt's files are kept.

A failure of this machine is not an outcome of the link: a store failure
(``storage.errors.StorageError``: disk full, permissions), and a full, read-only
or failing disk under the work directory while the page snapshot, yt-dlp or
ffmpeg write there (``classify.local_failure``), are raised as
``workers.errors.StoreFailed``. No capture is returned, so none is recorded,
partial or not (blobs already written stay unreferenced in the store); the run
retries the job once there is room (docs/design.md "Data flow").
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import re
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from storage._base import BlobStore, KnownDigest
from storage.errors import StorageError
from workers._collection import TLS_MEDIA_TYPE, collection, write_tls
from workers._media_files import scrub_info_json
from workers._verdict import judge, with_browser
from workers.browser import Browser, BrowserOutcome, render_page
from workers.classify import local_failure
from workers.errors import StoreFailed
from workers.media import MediaFile, MediaOutcome, capture_media
from workers.page import PageOutcome, snapshot_page
from workers.types import CapturedFile, CaptureJob, CaptureResult, CaptureState, Status
from workers.userinfo import scrub_userinfo, without_userinfo

__all__ = ["blocked", "capture", "file_base", "utc_now"]

log = logging.getLogger(__name__)

_PLATFORM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_EXT = re.compile(r"[a-z0-9]{1,10}")
_LANG = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
PAGE_NAME = "page.warc.gz"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def file_base(target_key: str) -> str:
    """The stem of every file name of a target: platform id, or a hash of the URL.

    >>> file_base("youtube:45WIwFETn3E")
    'youtube-45WIwFETn3E'
    >>> file_base("web:https://example.org/a")
    'web-b5b10dd0429e69ac'
    """
    kind, _, rest = target_key.partition(":")
    if kind in ("youtube", "facebook") and _PLATFORM_ID.fullmatch(rest):
        return f"{kind}-{rest}"
    prefix = kind if re.fullmatch(r"[a-z][a-z0-9-]{0,20}", kind) else "target"
    return f"{prefix}-{hashlib.sha256(rest.encode('utf-8')).hexdigest()[:16]}"


def _media_name(base: str, file: MediaFile, taken: set[str]) -> str:
    name = file.path.name.lower()
    ext = "json" if name.endswith(".info.json") else file.path.suffix.lower().lstrip(".")
    ext = ext if _EXT.fullmatch(ext) else "bin"
    qualifier = ""
    suffixes = file.path.suffixes
    if file.role == "subtitle" and len(suffixes) >= 2 and _LANG.fullmatch(suffixes[-2][1:].lower()):
        qualifier = "-" + suffixes[-2][1:].lower()  # the language (yt-dlp made it safe)
    candidate, n = f"{base}.{file.role}{qualifier}.{ext}", 1
    while candidate in taken:
        n += 1
        candidate = f"{base}.{file.role}{qualifier}-{n}.{ext}"
    taken.add(candidate)
    return candidate


async def _put(
    store: BlobStore, path: Path, *, role: str, name: str, media_type: str,
    known: KnownDigest | None = None,
) -> CapturedFile:
    try:
        blob = await asyncio.to_thread(store.put_file, str(path), known=known)
    except StorageError as exc:
        raise StoreFailed(f"could not store {name}: {exc}") from exc
    return CapturedFile(role=role, name=name, sha256=blob.sha256, size=blob.size,
                        media_type=media_type)


# one file to store: path, role, name, media type, and the digest its writer computed
_Put = tuple[Path, str, str, str, KnownDigest | None]


async def _all(*parts: Awaitable[Any]) -> list[Any]:
    """Every part's result, in order, the parts run at once; when one fails (a
    ``StoreFailed``, a cancellation) the first failure is raised once every part has
    ended, so none is left writing into a work directory about to be removed."""
    outcomes = await asyncio.gather(*parts, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


async def _put_all(store: BlobStore, puts: list[_Put]) -> list[CapturedFile]:
    """``_put`` each (path, role, name, media type, known digest) at once, in order."""
    return await _all(*(_put(store, path, role=role, name=name, media_type=media_type,
                             known=known) for path, role, name, media_type, known in puts))


async def _snapshot(
    job: CaptureJob, http: httpx.AsyncClient, clock: Callable[[], datetime],
    main_type: asyncio.Future[str],
) -> PageOutcome:
    def tell(kind: str) -> None:
        if not main_type.done():
            main_type.set_result(kind)

    try:
        with (job.work_dir / PAGE_NAME).open("wb") as out:
            return await snapshot_page(
                job.url, client=http, out=out, max_bytes=job.limits.page_max_bytes,
                deadline=job.limits.timeout_seconds, tmp_dir=job.work_dir, clock=clock,
                session=job.access.name if job.access.session else "",
                platform=job.platform, on_final=tell,
            )
    except OSError as exc:
        if local_failure(exc) is not None:
            raise StoreFailed(f"work directory unusable while writing the page: {exc}") from exc
        log.exception("page snapshot of %s failed", job.target_key)
        return _page_error(exc)
    except Exception as exc:  # a bug must not lose the media part
        log.exception("page snapshot of %s failed unexpectedly", job.target_key)
        return _page_error(exc)
    finally:
        tell("")  # no final response: the browser finds out for itself


def _page_error(exc: BaseException) -> PageOutcome:
    return PageOutcome(status=Status.ERROR, message=f"page snapshot failed: {type(exc).__name__}",
                       transient=False, http_status=None, final_url=None, content_type=None,
                       body_bytes=0, truncated=False)


async def _media(job: CaptureJob) -> MediaOutcome:
    try:
        return await capture_media(job)
    except StoreFailed:
        raise
    except Exception as exc:  # a bug must not lose the page part
        log.exception("media capture of %s failed unexpectedly", job.target_key)
        message = f"media capture failed: {type(exc).__name__}"
        return MediaOutcome(status=Status.ERROR, message=message, transient=False, files=(),
                            metadata={}, resolved_url=None, no_media=False)


async def _browser(job: CaptureJob, browser: Browser | None, http: httpx.AsyncClient,
                   clock: Callable[[], datetime],
                   main_type: asyncio.Future[str]) -> BrowserOutcome | None:
    if browser is None:
        return None
    try:
        return await render_page(browser, job, http, clock=clock, main_type=main_type)
    except OSError as exc:
        if local_failure(exc) is not None:
            raise StoreFailed(f"work directory unusable while rendering the page: {exc}") from exc
        log.exception("browser part of %s failed", job.target_key)
        return BrowserOutcome(complete=False, message=f"browser part failed: {exc}", files=(),
                              record={"state": "failed"})
    except Exception as exc:  # a bug must not lose the media and page parts
        log.exception("browser part of %s failed unexpectedly", job.target_key)
        return BrowserOutcome(complete=False, message=f"browser part failed: {type(exc).__name__}",
                              files=(), record={"state": "failed"})


_BROWSER_NAMES = {"screenshot": "screenshot.png", "dom": "dom.html", "pdf": "page.pdf",
                  "browser": "browser.warc.gz"}


def _scrub(path: Path) -> bool:
    """``scrub_info_json``; a disk that fails the rewrite fails the capture (``StoreFailed``)."""
    try:
        return scrub_info_json(path)
    except OSError as exc:
        raise StoreFailed(f"could not rewrite {path.name}: {exc}") from exc


# What a platform does to a visitor it will not serve (docs/design.md "Network and safety",
# "Proxies"): with ``proxy_on_failure_only`` these send the capture through the proxy.
_BLOCKS = frozenset({Status.BOT_CHECK, Status.RATE_LIMITED, Status.LOGIN_REQUIRED,
                     Status.GEO_BLOCKED})
_BLOCKING_CODES = frozenset({403, 429})


def blocked(page: PageOutcome, media: MediaOutcome) -> bool:
    """Did the platform block this attempt? The media said so (a bot check, a rate limit,
    a login wall, a geo block), or the page answered 403 or 429 and no media was captured."""
    if media.status in _BLOCKS:
        return True
    media_captured = media.status is Status.AVAILABLE and any(f.role == "media"
                                                              for f in media.files)
    return page.http_status in _BLOCKING_CODES and not media_captured


_Parts = tuple[PageOutcome, MediaOutcome, BrowserOutcome | None]


async def _attempt(job: CaptureJob, http: httpx.AsyncClient, browser: Browser | None,
                   clock: Callable[[], datetime]) -> _Parts:
    """Page, media and (with ``browser``) the rendered page, at once, into ``job.work_dir``;
    each wrapper turns a bug into an error outcome."""
    media_job = dataclasses.replace(job, work_dir=job.work_dir / "media")
    media_job.work_dir.mkdir(parents=True, exist_ok=True)
    main_type = asyncio.get_running_loop().create_future()  # the snapshot tells the browser
    # a StoreFailed or a cancellation is raised: nothing partial is kept
    page, media, rendered = await _all(
        _snapshot(job, http, clock, main_type), _media(media_job),
        _browser(job, browser, http, clock, main_type))
    assert isinstance(page, PageOutcome) and isinstance(media, MediaOutcome)
    assert rendered is None or isinstance(rendered, BrowserOutcome)
    return page, media, rendered


async def _attempts(job: CaptureJob, http: httpx.AsyncClient,
                    proxied_http: httpx.AsyncClient | None, browser: Browser | None,
                    clock: Callable[[], datetime]) -> tuple[CaptureJob, _Parts, dict[str, Any]]:
    """The attempt whose files are kept, and the manifest's ``access`` record.

    One attempt with the job's access; with ``proxy_on_failure_only`` (two
    ``access.attempts()``) direct first, and when the platform ``blocked`` it, once more
    through the proxy with ``proxied_http``. The blocked attempt's files are discarded:
    a capture holds one view, seen one way; its status is kept in the record."""
    first, *then = job.access.attempts()
    if not then or proxied_http is None:
        parts = await _attempt(job, http, browser, clock)
        return job, parts, job.access.record(proxied=first.proxied)
    direct = dataclasses.replace(job, access=first, work_dir=job.work_dir / "direct")
    direct.work_dir.mkdir()
    parts = await _attempt(direct, http, browser, clock)
    if not blocked(parts[0], parts[1]):
        return direct, parts, job.access.record(proxied=False)
    page, media = parts[0], parts[1]
    log.info("job %s: the direct attempt was blocked (%s); again through the proxy",
             job.job_id, media.status if media.status in _BLOCKS else f"HTTP {page.http_status}")
    shutil.rmtree(direct.work_dir, ignore_errors=True)
    proxied = dataclasses.replace(job, access=then[0], work_dir=job.work_dir / "proxied")
    proxied.work_dir.mkdir()
    parts = await _attempt(proxied, proxied_http, browser, clock)
    blocked_direct = {"media_status": media.status.value, "page_http_status": page.http_status}
    return proxied, parts, job.access.record(proxied=True, after_block=True) | {
        "blocked_direct_attempt": blocked_direct}


async def capture(
    job: CaptureJob,
    store: BlobStore,
    http: httpx.AsyncClient,
    *,
    browser: Browser | None = None,
    clock: Callable[[], datetime] = utc_now,
    proxied_http: httpx.AsyncClient | None = None,
) -> CaptureResult:
    """Capture ``job``'s target: page, media and (with ``browser``) the rendered page,
    stored; see the module docstring.

    ``http`` is the client of the job's first attempt (``job.access.attempts()[0]``:
    through the proxy when ``job.access.proxied``); ``proxied_http`` the proxied one for
    the second, with ``proxy_on_failure_only``."""
    started = clock()
    try:
        # (1) both parts at once, and again through the proxy after a blocked direct try
        kept, (page, media, rendered), access = await _attempts(job, http, proxied_http,
                                                                 browser, clock)
        # (2) into the store, all at once: their fsyncs overlap
        base, taken = file_base(job.target_key), set[str]()
        puts: list[_Put] = [
            (f.path, f.role, _media_name(base, f, taken), f.media_type,
             None if f.role == "info" else f.known)
            for f in media.files if f.role != "info" or _scrub(f.path)]
        if page.hops:  # an error response (404, 410 …) is evidence too
            puts.append((kept.work_dir / PAGE_NAME, "page", f"{base}.{PAGE_NAME}",
                         "application/warc", None))
        puts += [(bf.path, bf.role, f"{base}.{_BROWSER_NAMES[bf.role]}", bf.media_type, None)
                 for bf in (rendered.files if rendered else ())]
        if (tls := write_tls(page, kept.work_dir)) is not None:  # the https page's certificates
            puts.append((tls, "tls", f"{base}.tls.pem", TLS_MEDIA_TYPE, None))
        files = await _put_all(store, puts)
        # (3) what it amounts to
        walled, (state, status, message, transient) = judge(job, page, media, files, store)
        state, message = with_browser(state, message, rendered)
        resolved = media.resolved_url or page.final_url
        return CaptureResult(
            state=state, status=status, message=without_userinfo(message), files=tuple(files),
            metadata=scrub_userinfo(dict(media.metadata)),
            resolved_url=without_userinfo(resolved) if resolved else None,
            started_at=_rfc3339(started), finished_at=_rfc3339(clock()),
            transient=transient and state is not CaptureState.COMPLETE, wall=walled,
            collection=collection(page, media, files) | {
                "browser": scrub_userinfo(rendered.record) if rendered else {"state": "not used"},
                "access": access | ({"po_token_providers": list(media.po_token_providers)}
                                    if media.po_token_providers else {})},
        )
    finally:
        # (4) the store has the files; nothing is kept here, whatever happened
        shutil.rmtree(job.work_dir, ignore_errors=True)
