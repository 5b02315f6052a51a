"""Is a media capture whole? Missing fragments, missing streams and short files.

docs/yt-dlp.md "Whole captures": a court must never receive an incomplete video
labelled complete. yt-dlp skips a fragment it cannot fetch unless told not to;
with ``skip_unavailable_fragments: False`` (``_media_options``) it stops instead,
but its message ("Got error: HTTP Error 404 … Giving up after 3 retries") names
neither the fragment nor its URL. ``Gaps`` watches one run in the child process
(the downloader's ``Total fragments`` line, the progress hook's fragment count,
every refused request) so that the manifest says what is missing in words its
reader understands::

    HLS segment 2 of 4 (…/seg1.ts) answered HTTP 404; the video is incomplete

After a run that yt-dlp calls a success, ``missing_streams`` checks that every
file it says it wrote is there, and ``short_entries`` compares each kept stream's
duration (ffprobe) with the duration its own video states: the entry's
``duration``, else the summed ``EXTINF`` of the HLS playlists it was downloaded
from. A page can hold several videos (a playlist of entries, which ``noplaylist``
does not prevent), so one video is never held to another's length. A file
shorter than its stated duration by more than ``max(1 s, 2 %)`` is not a whole
capture.

URLs are named by their last path component only: a signed CDN URL carries
tokens, and docs/design.md "Network and safety" keeps tokens out of the archive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

__all__ = ["DurationCheck", "Gaps", "Playlist", "entries", "find_ffprobe", "missing_streams",
           "short_entries", "short_media"]

log = logging.getLogger(__name__)

INCOMPLETE = "the video is incomplete"
_URI = re.compile(r'URI="([^"]*)"')
_TOTAL = re.compile(r"^\[[\w:-]+\] Total fragments: (\d+)")
_FFPROBE_TIMEOUT = 120.0  # seconds; the job's deadline kills the child (and ffprobe) anyway
_TOLERANCE_SECONDS = 1.0
_TOLERANCE_SHARE = 0.02


def short_url(url: str) -> str:
    """``…/<last path component>`` of ``url``: enough to find it, no query, no token."""
    parts = urlsplit(url)
    last = parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.hostname or "?"
    return f"…/{last[:80]}"


@dataclass(frozen=True, kw_only=True)
class _Download:
    """One ``YoutubeDL.dl`` call of a fragmented protocol (HLS, DASH)."""

    kind: str  # "HLS" | "DASH"
    stream: str  # "" | "audio " | "video " | "subtitle "
    url: str  # the manifest (playlist) URL


@dataclass(frozen=True, kw_only=True)
class Playlist:
    """What an HLS media playlist lists (RFC 8216 section 4.3), in yt-dlp's fetch order."""

    init: frozenset[str]  # EXT-X-MAP URIs
    segments: tuple[str, ...]  # media segment URIs
    keys: frozenset[str]  # EXT-X-KEY URIs
    seconds: float  # the sum of its EXTINF durations

    @classmethod
    def parse(cls, text: str, base_url: str) -> Playlist:
        init: set[str] = set()
        keys: set[str] = set()
        segments: list[str] = []
        seconds = 0.0
        for line in (raw.strip() for raw in text.splitlines()):
            if line.startswith(("#EXT-X-MAP:", "#EXT-X-KEY:")):
                uri = _URI.search(line)
                if uri is not None:
                    (init if line.startswith("#EXT-X-MAP:") else keys).add(urljoin(base_url, uri[1]))
            elif line.startswith("#EXTINF:"):  # 4.3.2.1: #EXTINF:<duration>,[<title>]
                with contextlib.suppress(ValueError):
                    seconds += float(line[8:].split(",", 1)[0])
            elif line and not line.startswith("#"):
                segments.append(urljoin(base_url, line))
        return cls(init=frozenset(init), segments=tuple(segments), keys=frozenset(keys),
                   seconds=seconds)


class Gaps:
    """What one child run fetched and was refused, to name the missing piece.

    ``_media_child`` feeds it from ``YoutubeDL.dl`` (``start``, ``escaped``,
    ``forget``), ``urlopen`` (``refused``, ``playlist``), the logger (``debug``)
    and the progress hook (``progress``). An HLS playlist is read as yt-dlp
    fetches it, so a refused URL is found in it by name (segment, init segment,
    key); for DASH the downloader's own counts say which segment it was.
    """

    def __init__(self) -> None:
        self._download: _Download | None = None
        self._playlist: Playlist | None = None
        self._total: int | None = None
        self._done = 0
        self._refusal: tuple[str, int] | None = None  # url, HTTP status
        self._escaped = False
        self.playlists: dict[str, float] = {}  # each HLS media playlist URL: its EXTINF sum
        self.downloads = 0  # downloads of a video or audio stream (not subtitles)

    def start(self, info: dict[str, Any], *, subtitle: bool) -> None:
        protocol = str(info.get("protocol") or "")
        kind = "HLS" if protocol.startswith("m3u8") else "DASH" if "dash" in protocol else None
        self._playlist, self._total, self._done = None, None, 0
        self._refusal, self._escaped = None, False
        if not subtitle:
            self.downloads += 1
        if kind is None:
            self._download = None
            return
        stream = ("subtitle " if subtitle else "audio " if info.get("vcodec") == "none"
                  else "video " if info.get("acodec") == "none" else "")
        self._download = _Download(kind=kind, stream=stream, url=str(info.get("url") or ""))

    def wants_playlist(self, url: str) -> bool:
        d = self._download
        return d is not None and d.kind == "HLS" and url == d.url and self._playlist is None

    def playlist(self, text: str, base_url: str) -> None:
        self._playlist = Playlist.parse(text, base_url)
        if self._download is not None and not self._download.stream.startswith("subtitle"):
            self.playlists[self._download.url] = self._playlist.seconds

    def debug(self, msg: str) -> None:
        if (m := _TOTAL.match(msg)) is not None:
            self._total = int(m.group(1))

    def progress(self, d: dict[str, Any]) -> None:
        # the fragment downloader's state: fragments finished so far, and their number
        if isinstance(index := d.get("fragment_index"), int) and index > self._done:
            self._done, self._refusal = index, None  # a refusal retried away is no gap
        if self._total is None and isinstance(count := d.get("fragment_count"), int):
            self._total = count

    def refused(self, url: str, status: int) -> None:
        """A request of the current download answered ``status`` (an HTTP error)."""
        if self._download is not None:
            self._refusal = (url, status)

    def escaped(self) -> None:
        """The refused request's own error left ``dl``: yt-dlp retries neither the
        playlist nor a decryption key; a segment's error it retries, then gives up
        with a ``DownloadError`` of its own."""
        self._escaped = True

    def forget(self) -> None:
        """Another error ended the download: an earlier refusal is not its cause."""
        self._refusal = None

    def describe(self) -> tuple[str, int] | None:
        """(what is missing, the HTTP status it answered) after a failed run, or ``None``."""
        if self._download is None or self._refusal is None:
            return None
        d, (url, status) = self._download, self._refusal
        where, words = f"{d.kind} {d.stream}stream", f"answered HTTP {status}"
        label = f"{where}, segment" if d.stream else f"{d.kind} segment"
        named = f"({short_url(url)}) {words}"
        p = self._playlist
        if self._escaped and url == d.url:
            return f"the playlist of the {where} {named}; {INCOMPLETE}", status
        if (p is not None and url in p.keys) or (p is None and self._escaped):
            return f"the decryption key of the {where} {named}; the video could not be decrypted", status
        if p is not None and url in p.init:
            return f"the initialization segment of the {where} {named}; {INCOMPLETE}", status
        if p is not None and url in p.segments:
            number, of = p.segments.index(url) + 1, f" of {len(p.segments)}"
        else:
            number, of = self._done + 1, f" of {self._total}" if self._total else ""
        return f"{label} {number}{of} {named}; {INCOMPLETE}", status


def entries(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The info of each video of a result: the top-level info and a playlist's entries."""
    listed = info.get("entries") if info.get("_type") == "playlist" else None
    return [e for e in [info, *(listed or [])] if isinstance(e, dict)]


def _parts(entry: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Each download of one entry and the streams merged into it."""
    for rd in entry.get("requested_downloads") or []:
        if isinstance(rd, dict):
            yield rd
            yield from (f for f in rd.get("requested_formats") or [] if isinstance(f, dict))


def missing_streams(info: dict[str, Any], home: Path) -> str | None:
    """A selected stream yt-dlp reports as downloaded but whose file is absent or empty."""
    for part in (p for entry in entries(info) for p in _parts(entry)):
        path = part.get("filepath")
        if not isinstance(path, str) or not path:
            continue
        file = home / path
        if not file.is_file() or file.stat().st_size == 0:
            fmt = part.get("format_id") or "?"
            return f"format {fmt} was selected but its file {file.name} is missing; {INCOMPLETE}"
    return None


def find_ffprobe(ffmpeg: str | None) -> str | None:
    """ffprobe beside the configured ffmpeg (Debian's ffmpeg ships both), else on PATH."""
    if ffmpeg:
        beside = Path(ffmpeg).with_name("ffprobe")
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
    return shutil.which("ffprobe")


@dataclass(frozen=True, kw_only=True)
class DurationCheck:
    """The duration check of one run: a short file, or why it was not checked."""

    short: str | None = None  # what is short, in words; None: nothing found short
    not_checked: str | None = None  # why the check did not run although the source states a duration


def short_entries(
    info: dict[str, Any], home: Path, gaps: Gaps, ffprobe: str | None
) -> DurationCheck:
    """``short_media`` for each video of ``info``, against the duration that video states.

    An entry without ``duration`` is held to the HLS playlists its own downloads
    were fetched from. When none of them is known by URL, the one playlist read is
    used only if it was the run's only download: with several, which video it
    belongs to cannot be told, and the entry states nothing.
    """
    short: str | None = None
    not_checked: str | None = None
    for entry in entries(info):
        parts = list(_parts(entry))
        files = [home / p["filepath"] for p in parts if isinstance(p.get("filepath"), str)
                 and p["filepath"] and _inside(home, home / p["filepath"])]
        stated = entry.get("duration") or _playlist_seconds(parts, gaps)
        check = short_media(files, stated, ffprobe)
        short = short or check.short
        not_checked = not_checked or check.not_checked
    return DurationCheck(short=short, not_checked=not_checked)


def _playlist_seconds(parts: list[dict[str, Any]], gaps: Gaps) -> float | None:
    own = [gaps.playlists[u] for p in parts if isinstance(u := p.get("url"), str) and u in gaps.playlists]
    if own:
        return max(own)
    if parts and gaps.downloads == 1 and len(gaps.playlists) == 1:
        return next(iter(gaps.playlists.values()))
    return None


def _inside(home: Path, file: Path) -> bool:
    return file.resolve().is_relative_to(home.resolve())  # outside the job directory: not ours


def short_media(files: Iterable[Path], stated: object, ffprobe: str | None) -> DurationCheck:
    """Compare each file's duration with the source's ``stated`` one (seconds).

    No stated duration: nothing to check (and nothing claimed). No ffprobe: the
    check did not run, and ``not_checked`` says so. A file ffprobe cannot read is
    not checked, and the others still are: one unreadable file passes none.
    """
    if isinstance(stated, bool) or not isinstance(stated, int | float) or stated <= 0:
        return DurationCheck()
    files = list(files)
    if not files:
        return DurationCheck()
    if ffprobe is None:
        return DurationCheck(not_checked="duration not checked: ffprobe not found")
    floor = stated - max(_TOLERANCE_SECONDS, _TOLERANCE_SHARE * stated)
    unread: list[str] = []
    for file in files:
        seconds = _duration(ffprobe, file)
        if seconds is None:
            unread.append(file.name)
        elif seconds < floor:
            return DurationCheck(short=(
                f"the kept file {file.name} lasts {seconds:.1f} s but the source states "
                f"{float(stated):.1f} s; {INCOMPLETE}"))
    if unread:
        return DurationCheck(not_checked=f"duration not checked: ffprobe could not read {', '.join(unread)}")
    return DurationCheck()


def _duration(ffprobe: str, file: Path) -> float | None:
    # ffprobe may read this local file only: a kept playlist must not make it fetch
    cmd = [ffprobe, "-v", "error", "-protocol_whitelist", "file",
           "-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1",
           str(file)]
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True,
                             timeout=_FFPROBE_TIMEOUT, stdin=subprocess.DEVNULL)
        return float(out.stdout.strip().splitlines()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        log.debug("ffprobe could not read %s", file, exc_info=True)
        return None
