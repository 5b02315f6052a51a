"""The yt-dlp options for an evidence capture (re-exported as ``workers.media.build_options``).

Every choice is for custody, not convenience; docs/yt-dlp.md "Options" lists
each with its reason.

- One output directory per job (``paths.home``, no ``temp``) so the whole
  directory is the capture; file names come from the extractor key, the
  platform id and the format id only, never from titles (remote text), and
  ``restrictfilenames`` keeps them ASCII.
- ``keepvideo`` keeps the streams exactly as served beside any merge;
  ``fixup: never`` stops yt-dlp from rewriting them (an HLS capture stays the
  served MPEG-TS bytes).
- Subtitles: every manual track except live chat (``['all', '-live_chat']``).
  Automatic captions only in the original language: YouTube offers machine
  translations into ~100 languages under the same codes as manual tracks, so
  ``subtitleslangs`` cannot tell them apart; ``_media_child`` keeps only the
  ``*-orig`` automatic tracks when an extractor marks one (YouTube does) and
  ``skip: translated_subs`` stops YouTube from listing translated manual ones.
- No cookies of yt-dlp's own: neither a ``cookiefile`` nor a browser's. An
  ``[access.<group>]`` session is loaded by ``_media_child`` straight into the
  jar, because yt-dlp writes the jar back to ``cookiefile`` when it closes, and
  the operator's file must never change. Without a session, what an anonymous
  visitor sees is the evidence.
- Retries are modest: the run loop retries whole jobs with backoff
  (``workers.retry``).
- A fragment (HLS or DASH segment, init segment) that cannot be fetched after
  its retries fails the download (``skip_unavailable_fragments: False``):
  yt-dlp's default skips it and hands over a shorter video as if whole
  (``_media_whole``, docs/yt-dlp.md "Whole captures").
- A stream that is live right now is skipped (``match_filter``): it cannot
  finish within a job's bounds; the report says so.
- Not set from ``CaptureJob``: ``user_agent`` (yt-dlp picks per-site headers
  that YouTube depends on) and ``max_redirects`` (yt-dlp has no such param).
- Proxies: yt-dlp is given the child's guard proxy (``_guard_proxy``), never the
  operator's proxy itself, which would resolve the names it is given unchecked.
- Network containment: yt-dlp's own HTTP stack runs under ``_netguard``, but
  ffmpeg is a separate program that would fetch on its own. HLS/DASH always use
  the native downloaders, and when yt-dlp still hands a download to ffmpeg
  (live or exotic HLS) ffmpeg may only read local files and data: URLs, so it
  fails instead of reaching an unchecked address.
"""

from __future__ import annotations

import os
from typing import Any

from yt_dlp.utils import match_filter_func

from workers.types import CaptureJob

__all__ = ["FORMAT_NO_FFMPEG", "FORMAT_WITH_FFMPEG", "build_options"]

FORMAT_WITH_FFMPEG = "bv*+ba/b"  # best video (+ best audio, merged), else best single file
FORMAT_NO_FFMPEG = "b/(bv*,ba)"  # best single file, else both streams as separate files

_NAME = "%(extractor_key)s-%(id)s"
_MEDIA_NAME = _NAME + ".%(format_id)s.%(ext)s"
_PLAYLIST_NAME = _NAME + ".playlist"


def build_options(job: CaptureJob, *, ffmpeg: str | None, proxy: str = "") -> dict[str, Any]:
    """The ``YoutubeDL`` params for one job, without logger and hooks.

    ``ffmpeg`` is the path of the ffmpeg binary, or ``None`` to capture
    without it: then nothing is merged; the best single file is taken, and
    where a site only serves separate streams (DASH) each is kept as its own
    file rather than dropping the audio. The child process adds its logger and
    progress hook. ``proxy`` is the child's guard proxy (``workers._guard_proxy``) when
    the job's access goes through a proxy, ``""`` (direct) otherwise.
    """
    return {
        # -- files ---------------------------------------------------------------
        "paths": {"home": str(job.work_dir)},
        "outtmpl": {
            "default": _MEDIA_NAME,
            "chapter": _MEDIA_NAME,
            "pl_video": _MEDIA_NAME,
            "subtitle": _NAME,
            "thumbnail": _NAME,
            "infojson": _NAME,
            "description": _NAME,
            "annotation": _NAME,
            "link": _NAME,
            "pl_thumbnail": _PLAYLIST_NAME,
            "pl_description": _PLAYLIST_NAME,
            "pl_infojson": _PLAYLIST_NAME,
        },
        "restrictfilenames": True,
        "windowsfilenames": True,
        "trim_file_name": 150,
        "updatetime": False,  # file times are ours; the server's date is in the info JSON
        # -- what to keep --------------------------------------------------------
        "writeinfojson": True,
        "clean_infojson": True,
        "writethumbnail": True,
        "writesubtitles": True,
        "writeautomaticsub": True,
        "subtitleslangs": ["all", "-live_chat"],  # automatic ones: see _media_child
        # the operator's [access.<group>] extractor_args over ours, argument by argument
        "extractor_args": job.access.ytdlp_extractor_args(
            {"youtube": {"skip": ["translated_subs"]}}),
        "keepvideo": True,
        "fixup": "never",
        "format": FORMAT_WITH_FFMPEG if ffmpeg else FORMAT_NO_FFMPEG,
        # yt-dlp has no "no ffmpeg" switch and otherwise finds ffmpeg on PATH;
        # os.devnull is not executable, so its probe fails quietly.
        "ffmpeg_location": ffmpeg or os.devnull,
        "noplaylist": True,
        # A stream still live never ends within a job's bounds: skip it, say so.
        "match_filter": match_filter_func("!is_live"),
        "ignoreerrors": False,  # we want the exception: it carries the platform's words
        # -- bounds --------------------------------------------------------------
        "max_filesize": job.limits.max_bytes,
        "socket_timeout": job.limits.socket_timeout_seconds,
        "retries": 2,
        "fragment_retries": 3,
        "skip_unavailable_fragments": False,  # a missing segment fails; never a silent gap
        "extractor_retries": 1,
        "file_access_retries": 1,
        "concurrent_fragment_downloads": 1,  # the size hook must run in this thread
        # -- network -------------------------------------------------------------
        # Never a proxy from the environment (HTTP_PROXY …): the address guard would
        # check the proxy instead of the captured host. A configured proxy is reached
        # only through the child's guard proxy, which checks every host first.
        "proxy": proxy,
        # [network] source_address: connect from this local address (direct only: through
        # the guard proxy, the connection out is the proxy's)
        "source_address": job.source_address,
        "external_downloader": {"default": "native"},
        "external_downloader_args": {"ffmpeg_i": ["-protocol_whitelist", "file,crypto,data"]},
        "cookiefile": None,  # never the session's file: yt-dlp would write to it
        "cookiesfrombrowser": None,
        "cachedir": str(job.cache_dir) if job.cache_dir is not None else False,
        # -- output --------------------------------------------------------------
        "quiet": True,
        "noprogress": True,
        "no_warnings": False,
        "color": {"stdout": "never", "stderr": "never"},
    }
