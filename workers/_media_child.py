"""The yt-dlp run inside the killable child process (see ``workers.media``).

Runs in a process of its own: ``main`` makes it a process-group leader (so a
kill reaches ffmpeg too), installs the address guard, runs one ``YoutubeDL``
and writes one JSON report to the pipe. JSON, not pickle: the report carries
remote text, and the parent must not unpickle what a compromised child wrote.

The report is plain data::

    {"status": "available", "message": "", "transient": false, "no_media": false,
     "local": false, "oversized": false, "roles": {"Generic-clip.mp4.mp4": "media", ...},
     "metadata": {...sanitize_info...}, "resolved_url": "...", "warnings": [...],
     "responses": [...the download's HTTP responses, workers._media_responses...],
     "po_token_providers": ["BgUtilHTTP", ...],  # YouTube targets: the providers loaded
     "digests": [{"path": "Generic-clip.mp4.mp4", "sha256": "...", "size": ...,
                  "device": ..., "inode": ..., "mtime_ns": ..., "ctime_ns": ...}, ...]}
                  # files hashed as they were written (workers._media_hashing)

yt-dlp plugins are loaded first, from the places ``workers.plugins`` allows.
"""

from __future__ import annotations

import io
import json
import os
import re
from http.cookiejar import Cookie
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from yt_dlp import YoutubeDL
from yt_dlp.networking import Response
from yt_dlp.networking.exceptions import HTTPError, RequestError
from yt_dlp.utils import DownloadCancelled, YoutubeDLError

from workers import _guard_proxy
from workers._child_net import secure_child
from workers._media_files import without_secrets
from workers._media_hashing import Digests, writing_digests
from workers._media_hashing import report as digest_report
from workers._media_options import build_options
from workers._media_responses import Responses
from workers._media_whole import Gaps, find_ffprobe, missing_streams, short_entries
from workers._ytdlp_cache import add_default_extractors
from workers.classify import classify, http_status
from workers.cookies import read_cookies
from workers.errors import CookiesFileError
from workers.plugins import po_token_providers
from workers.types import CaptureJob, Status, too_large_message

_MAX_WARNINGS = 50
_SAFE_LANG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


class _TooLarge(DownloadCancelled):  # type: ignore[misc]  # yt-dlp is untyped
    """Raised from the progress hook: yt-dlp lets ``DownloadCancelled`` through unwrapped."""


class _Run:
    """Logger and progress hook of one run; remembers what the report needs."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.oversized = False
        self.warnings: list[str] = []
        self.gaps = Gaps()

    # yt-dlp logger protocol -------------------------------------------------------
    def debug(self, msg: str) -> None:
        # max_filesize aborts without an exception; this line is the only sign.
        if "is larger than max-filesize" in msg:
            self.oversized = True
        self.gaps.debug(msg)

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(msg.removeprefix("WARNING: "))

    def error(self, msg: str) -> None:
        pass  # the same text arrives as the DownloadError

    # progress hook ----------------------------------------------------------------
    def on_progress(self, d: dict[str, Any]) -> None:
        # max_filesize only sees a Content-Length; streams of unknown size and
        # HLS/DASH fragments are bounded here, on the bytes actually received.
        self.gaps.progress(d)
        if d.get("status") == "downloading" and (d.get("downloaded_bytes") or 0) > self.max_bytes:
            self.oversized = True
            raise _TooLarge(too_large_message(self.max_bytes))


class _EvidenceYoutubeDL(YoutubeDL):  # type: ignore[misc]  # yt-dlp is untyped
    """``YoutubeDL`` with the subtitle choice of ``_media_options``, safe language keys,
    every download and refused request told to ``gaps`` (``_media_whole.Gaps``), and
    each download's responses to ``responses`` (``_media_responses.Responses``)."""

    def __init__(
        self, params: dict[str, Any], *, gaps: Gaps | None = None,
        responses: Responses | None = None,
    ) -> None:
        super().__init__(params, auto_init=False)
        add_default_extractors(self)  # what auto_init adds, from the forkserver's list
        self.gaps = gaps if gaps is not None else Gaps()
        self.responses = responses if responses is not None else Responses()

    def dl(self, name: str, info: dict[str, Any], subtitle: bool = False, test: bool = False) -> Any:
        self.gaps.start(info, subtitle=subtitle)
        self.responses.start(info, subtitle=subtitle)
        try:
            return super().dl(name, info, subtitle, test)
        except HTTPError:
            self.gaps.escaped()
            raise
        except RequestError:  # a refused address, a timeout: classify names it
            self.gaps.forget()
            raise
        finally:
            self.responses.stop()

    def urlopen(self, req: Any) -> Any:
        # Every downloader (http, hlsnative, dashsegments and their fragments) and every
        # extractor request comes through here: docs/yt-dlp.md "The download's responses".
        url = str(getattr(req, "url", req))
        try:
            res = super().urlopen(req)
        except HTTPError as exc:
            self.gaps.refused(url, int(exc.status))
            self.responses.answered(url, exc.response)
            raise
        except RequestError as exc:  # no HTTP answer: reset, timeout, unreadable headers
            self.responses.failed(url, exc)
            raise
        self.responses.answered(url, res)
        if self.gaps.wants_playlist(url):  # read it once, for gaps and for the downloader
            body = res.read()
            res.close()
            self.gaps.playlist(body.decode("utf-8", "replace"), res.url)
            res = Response(io.BytesIO(body), res.url, res.headers, res.status, res.reason)
        return res

    def process_subtitles(
        self, video_id: str, normal_subtitles: Any, automatic_captions: Any
    ) -> Any:
        if automatic_captions:
            orig = {k: v for k, v in automatic_captions.items() if k.endswith("-orig")}
            automatic_captions = orig or automatic_captions
        chosen = super().process_subtitles(video_id, normal_subtitles, automatic_captions)
        return _safe_languages(chosen) if chosen else chosen


def _safe_languages(subs: dict[str, Any]) -> dict[str, Any]:
    """Language codes become file names; remote ones (``<track srclang>``) may be anything.

    yt-dlp refuses an unsafe one by failing the whole capture, so rename it.
    """
    out: dict[str, Any] = {}
    for i, (lang, sub) in enumerate(subs.items()):
        key = lang if _SAFE_LANG.fullmatch(lang) else f"track{i}"
        out[key if key not in out else f"{key}-{i}"] = sub
    return out


def _roles(info: dict[str, Any], home: Path) -> dict[str, str]:
    """File roles named by yt-dlp's own record of what it wrote."""
    roles: dict[str, str] = {}

    def put(path: Any, role: str) -> None:
        if isinstance(path, str) and path:
            p = Path(path)
            try:
                roles[str((home / p).resolve().relative_to(home.resolve()))] = role
            except ValueError:
                pass  # outside the job directory: not ours to list

    entries = info.get("entries") if info.get("_type") == "playlist" else None
    put(info.get("infojson_filename"), "info")
    for entry in [info, *(entries or [])]:
        if not isinstance(entry, dict):
            continue
        put(entry.get("infojson_filename"), "info")
        for thumb in entry.get("thumbnails") or []:
            put(thumb.get("filepath"), "thumbnail")
        for sub in (entry.get("requested_subtitles") or {}).values():
            put(sub.get("filepath"), "subtitle")
        for rd in entry.get("requested_downloads") or []:
            put(rd.get("infojson_filename"), "info")
            for component in rd.get("requested_formats") or []:
                put(component.get("filepath"), "component")
            put(rd.get("filepath"), "media")
    return roles


def capture(job: CaptureJob, ffmpeg: str | None,
            guard: _guard_proxy.Guard | None = None) -> dict[str, Any]:
    """Run yt-dlp for one job in this process and describe the result; through ``guard``
    (the guard proxy) when the job's access goes through a proxy."""
    run = _Run(job.limits.max_bytes)
    opts = build_options(job, ffmpeg=ffmpeg, proxy=guard.url if guard else "") | {
        "logger": run, "progress_hooks": [run.on_progress]}
    report: dict[str, Any] = {
        "status": Status.AVAILABLE.value, "message": "", "transient": False, "no_media": False,
        "roles": {}, "metadata": {}, "resolved_url": None,
    }
    responses, digests = Responses(), Digests()
    try:
        session = _session(job)
    except CookiesFileError as exc:  # the operator's to fix: retried later, never anonymous
        report.update(status=Status.ERROR.value, transient=True,
                      message=f"session {job.access.name}: cookies file {exc}")
        return report | {"oversized": False, "warnings": [], "responses": []}
    try:
        with writing_digests(digests), _EvidenceYoutubeDL(opts, gaps=run.gaps,
                                                          responses=responses) as ydl:
            for cookie in session:
                ydl.cookiejar.set_cookie(cookie)
            info = ydl.extract_info(job.url, download=True)
            metadata = without_secrets(ydl.sanitize_info(info)) if isinstance(info, dict) else {}
    except _TooLarge as exc:
        report.update(status=Status.ERROR.value, message=str(exc))
    except (YoutubeDLError, OSError) as exc:
        c = classify(exc)
        report.update(status=c.status.value, message=c.message, transient=c.transient,
                      no_media=c.no_media, local=c.local, wall=c.wall)
        if c.no_media:
            # The page answered, it just holds no media: the link is up.
            report["status"] = Status.AVAILABLE.value
        elif guard is not None and (problem := guard.problem()) is not None:
            # The guard proxy refused an address or the proxy failed: yt-dlp only saw a
            # closed tunnel, the guard knows why (one line, the proxy's password hidden).
            report.update(status=Status.ERROR.value, message=problem[0], transient=problem[1])
        elif (gap := run.gaps.describe()) is not None:
            # A piece of the video was refused: the link is up, the capture is not whole.
            report.update(status=Status.ERROR.value, message=gap[0],
                          transient=http_status(gap[1])[1])
    else:
        report.update(metadata=metadata, resolved_url=metadata.get("webpage_url"),
                      roles=_roles(metadata, job.work_dir))
        if run.oversized:
            report.update(status=Status.ERROR.value, message=too_large_message(job.limits.max_bytes))
        elif metadata.get("is_live"):
            report.update(status=Status.UNKNOWN.value, transient=True,
                          message="live stream in progress: capture it once it has ended")
        else:
            _check_whole(report, metadata, job, ffmpeg, run.gaps)
    report.update(oversized=run.oversized, warnings=run.warnings, responses=responses.entries,
                  digests=digest_report(digests, job.work_dir))
    if job.platform == "youtube":
        report["po_token_providers"] = list(po_token_providers())
    return report


def _session(job: CaptureJob) -> tuple[Cookie, ...]:
    """The cookies of the job's session, read now from the operator's file.

    They go into yt-dlp's jar directly: given as the ``cookiefile`` param, yt-dlp would
    write the jar (with every cookie the servers set) back into that file when it
    closes (docs/yt-dlp.md "Options")."""
    path = job.access.cookies_file
    return read_cookies(path) if path is not None else ()


def _check_whole(
    report: dict[str, Any], metadata: dict[str, Any], job: CaptureJob, ffmpeg: str | None,
    gaps: Gaps,
) -> None:
    """A run yt-dlp calls a success is whole only when every selected stream's file is
    there and none is shorter than the source says (docs/yt-dlp.md "Whole captures")."""
    durations = short_entries(metadata, job.work_dir, gaps, find_ffprobe(ffmpeg))
    problem = missing_streams(metadata, job.work_dir) or durations.short
    if problem is not None:
        report.update(status=Status.ERROR.value, message=problem)
    if durations.not_checked is not None:
        report["not_checked"] = [durations.not_checked]


def main(job: CaptureJob, ffmpeg: str | None, conn: Connection) -> None:
    """Child-process entry point: one capture, one JSON report on ``conn``, exit."""
    os.setsid()  # own process group: the parent's kill reaches ffmpeg as well
    guard = secure_child(proxy=job.access.proxy if job.access.proxied else None,
                         allow_private=job.allow_private, allow_networks=job.allow_networks,
                         timeout=job.limits.socket_timeout_seconds,
                         extractor_args=job.access.extractor_args)
    data = json.dumps(capture(job, ffmpeg, guard)).encode()
    with open(conn.fileno(), "wb", closefd=False) as pipe:
        pipe.write(data)
    conn.close()
