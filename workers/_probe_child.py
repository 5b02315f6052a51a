"""The yt-dlp metadata probe (``download=False``), run in a killable child like a capture's.

Same machinery as a media capture: ``_procs.run_child`` forks the child from the
capture forkserver, and the child makes itself a process-group leader, installs the
address guard (``_netguard``), runs one ``YoutubeDL`` and writes one JSON
report to the pipe; the parent kills the group when the deadline passes.
Nothing is downloaded or written: ``extract_info(url, download=False)`` is the
whole job, so the only options kept from ``_media_options`` are the network
and bounds ones (no cookies of yt-dlp's own, no proxy from the environment,
socket timeout, modest retries). A probe whose access has a session
(``cookies_file``) loads its cookies into the jar, never as ``cookiefile``
(``_media_child._session`` says why). A probe whose access has a proxy goes through
the guard proxy (``_guard_proxy``), as a capture does.

``extractors`` are ``"module:Class"`` import paths of extra yt-dlp extractors
tried before yt-dlp's own. Tests use them to stand in for YouTube's and
Facebook's servers, which cannot exist offline; nothing else should.

The report is plain data::

    {"status": "private", "message": "Private video. Sign in ...", "transient": false,
     "no_media": false, "resolved_url": null}
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from yt_dlp import YoutubeDL
from yt_dlp.utils import YoutubeDLError

from workers import _guard_proxy
from workers._child_net import secure_child
from workers._procs import run_child
from workers._ytdlp_cache import add_default_extractors
from workers.classify import classify
from workers.cookies import read_cookies
from workers.errors import CaptureFailed, CookiesFileError
from workers.types import Status

__all__ = ["ProbeRequest", "YtdlpAnswer", "run_ytdlp_probe"]

_EXIT_GRACE = 2.0  # seconds a child that has answered gets to exit on its own
_MAX_REPORT = 1 << 20  # a probe's report is a status and a message
_STATUSES = frozenset(s.value for s in Status)


@dataclass(frozen=True, kw_only=True)
class ProbeRequest:
    """What the child needs (picklable: it crosses the process boundary)."""

    url: str
    socket_timeout: float
    allow_private: bool
    allow_networks: tuple[str, ...]
    extractors: tuple[str, ...] = ()
    cookies_file: Path | None = None  # the session's (``Access.cookies_file``), read here
    proxy: str | None = None  # the operator's proxy (secret): reached through the guard proxy
    extractor_args: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # yt-dlp's


@dataclass(frozen=True, kw_only=True)
class YtdlpAnswer:
    """yt-dlp's verdict: ``classify``'s reading of its failure, or ``AVAILABLE``."""

    status: Status
    message: str
    transient: bool
    no_media: bool = False
    resolved_url: str | None = None
    wall: bool = False  # a bot check or login wall (``classify``): inconclusive


class _Quiet:
    """yt-dlp logger: the failure arrives as the exception, nothing else is needed."""

    def debug(self, msg: str) -> None: ...
    def info(self, msg: str) -> None: ...
    def warning(self, msg: str) -> None: ...
    def error(self, msg: str) -> None: ...


def options(req: ProbeRequest, proxy: str = "") -> dict[str, Any]:
    """``YoutubeDL`` params for a metadata probe (the network part of ``build_options``)."""
    return {
        "skip_download": True,
        "noplaylist": True,
        "ignoreerrors": False,  # we want the exception: it carries the platform's words
        "socket_timeout": req.socket_timeout,
        "retries": 1,
        "extractor_retries": 1,
        # never the environment's; a configured proxy only through the guard proxy
        "proxy": proxy,
        "extractor_args": req.extractor_args,  # the operator's ([access.<group>])
        "cookiefile": None,
        "cookiesfrombrowser": None,
        "cachedir": False,
        "ffmpeg_location": os.devnull,  # never needed; keeps yt-dlp from searching PATH
        "quiet": True,
        "noprogress": True,
        "color": {"stdout": "never", "stderr": "never"},
        "logger": _Quiet(),
    }


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def probe(req: ProbeRequest, guard: _guard_proxy.Guard | None = None) -> dict[str, Any]:
    """Run the probe in this process and describe the result (never raises for the link);
    through ``guard`` (the guard proxy) when the probe's access has a proxy."""
    report: dict[str, Any] = {"status": Status.AVAILABLE.value, "message": "",
                              "transient": False, "no_media": False, "resolved_url": None}
    try:
        session = read_cookies(req.cookies_file) if req.cookies_file is not None else ()
    except CookiesFileError as exc:  # the operator's to fix; never probed anonymously
        return report | {"status": Status.ERROR.value, "transient": True,
                         "message": f"session cookies file {exc}"}
    try:
        with YoutubeDL(options(req, guard.url if guard else ""), auto_init=False) as ydl:
            for cookie in session:
                ydl.cookiejar.set_cookie(cookie)
            for path in req.extractors:  # ahead of yt-dlp's own, which are added next
                ydl.add_info_extractor(_load(path)())
            add_default_extractors(ydl)  # yt-dlp's own defaults, listed once per server
            info = ydl.extract_info(req.url, download=False)
    except (YoutubeDLError, OSError) as exc:
        c = classify(exc)
        report.update(status=c.status.value, message=c.message, transient=c.transient,
                      no_media=c.no_media, wall=c.wall)
        if guard is not None and (problem := guard.problem()) is not None:
            report.update(status=Status.ERROR.value, message=problem[0], transient=problem[1],
                          no_media=False, wall=False)
    except (ImportError, AttributeError) as exc:  # a bad ``extractors`` entry: configuration
        report.update(status=Status.ERROR.value, message=f"cannot load extractor: {exc}")
    else:
        if isinstance(info, dict) and isinstance(info.get("webpage_url"), str):
            report["resolved_url"] = info["webpage_url"]
    return report


def main(req: ProbeRequest, conn: Connection) -> None:
    """Child-process entry point: one probe, one JSON report on ``conn``, exit."""
    os.setsid()  # own process group, like a capture: the parent's kill reaches everything
    guard = secure_child(proxy=req.proxy, allow_private=req.allow_private,
                         allow_networks=req.allow_networks, timeout=req.socket_timeout,
                         extractor_args=req.extractor_args)
    data = json.dumps(probe(req, guard)).encode()
    with open(conn.fileno(), "wb", closefd=False) as pipe:
        pipe.write(data)
    conn.close()


async def run_ytdlp_probe(req: ProbeRequest, *, timeout: float) -> YtdlpAnswer:
    """Probe ``req.url`` in a child process; never raises for the link or the machinery.

    Cancelling the task kills the child.
    """
    try:
        return await run_child(main, (req,), name="preserver-probe", timeout=timeout,
                               limit=_MAX_REPORT, parse=_answer, what="probe process",
                               grace=_EXIT_GRACE)
    except TimeoutError:
        return YtdlpAnswer(status=Status.ERROR, transient=True,
                           message=f"yt-dlp probe timed out after {timeout:g} s")
    except CaptureFailed as exc:
        return YtdlpAnswer(status=Status.ERROR, message=f"yt-dlp probe: {exc}", transient=False)


def _answer(data: bytes) -> YtdlpAnswer:
    try:
        report = json.loads(data)
    except ValueError as exc:
        raise CaptureFailed(f"probe process sent an unreadable result: {exc}") from exc
    if not (isinstance(report, dict) and report.get("status") in _STATUSES):
        raise CaptureFailed("probe process sent a result of the wrong shape")
    resolved = report.get("resolved_url")
    return YtdlpAnswer(
        status=Status(report["status"]),
        message=str(report.get("message", "")),
        transient=bool(report.get("transient")),
        no_media=bool(report.get("no_media")),
        resolved_url=resolved if isinstance(resolved, str) else None,
        wall=bool(report.get("wall")),
    )

