"""The files a yt-dlp run left in a work directory: roles, media types, leftovers.

Roles come from yt-dlp's own record of what it wrote (``_media_child``); a
file it did not name (a run killed on timeout) gets a role from its name.
Partial downloads are deleted, never listed: ``*.part``, ``*.part-Frag*``,
``*.ytdl`` and ffmpeg's ``*.temp.*`` merge output.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mimetypes
import os
import re
from collections.abc import Mapping
from pathlib import Path

from workers.userinfo import scrub_userinfo

__all__ = ["is_leftover", "list_files", "media_type", "scrub_info_json", "without_secrets"]

log = logging.getLogger(__name__)

_LEFTOVER = re.compile(r"\.part$|\.part-Frag|\.ytdl$|\.temp\.[^.]+$")

# Extensions yt-dlp writes, with the types archives expect; mimetypes is the fallback.
_TYPES = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska",
    ".mov": "video/quicktime", ".flv": "video/x-flv", ".ts": "video/mp2t", ".3gp": "video/3gpp",
    ".m4a": "audio/mp4", ".mp3": "audio/mpeg", ".opus": "audio/ogg", ".ogg": "audio/ogg",
    ".weba": "audio/webm", ".aac": "audio/aac", ".wav": "audio/wav", ".flac": "audio/flac",
    ".json": "application/json", ".vtt": "text/vtt", ".srt": "application/x-subrip",
    ".ass": "text/x-ssa", ".ttml": "application/ttml+xml", ".srv1": "application/xml",
    ".srv2": "application/xml", ".srv3": "application/xml", ".json3": "application/json",
    ".lrc": "text/plain", ".description": "text/plain",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".gif": "image/gif", ".m3u8": "application/x-mpegURL", ".mpd": "application/dash+xml",
}
_SUBTITLE_EXTS = {".vtt", ".srt", ".ass", ".ttml", ".srv1", ".srv2", ".srv3", ".json3", ".lrc"}
_IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".gif"}
_MEDIA_EXTS = {e for e, t in _TYPES.items() if t.startswith(("video/", "audio/"))}
_TS_PACKET = 188


def is_leftover(name: str) -> bool:
    """A partial download or an unfinished merge."""
    return bool(_LEFTOVER.search(name))


def _is_mpeg_ts(path: Path) -> bool:
    # HLS kept with fixup 'never' is MPEG-TS under an .mp4 name: sync byte 0x47 every 188.
    with contextlib.suppress(OSError), path.open("rb") as f:
        head = f.read(_TS_PACKET * 2 + 1)
        return len(head) > _TS_PACKET * 2 and head[0] == head[_TS_PACKET] == head[2 * _TS_PACKET] == 0x47
    return False


def media_type(path: Path) -> str:
    """The media type of a file yt-dlp wrote, from its name (and TS sync bytes)."""
    name = path.name.lower()
    if name.endswith(".info.json"):
        return "application/json"
    ext = path.suffix.lower()
    if ext in _MEDIA_EXTS and _is_mpeg_ts(path):
        return "video/mp2t"
    return _TYPES.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _role_from_name(path: Path) -> str:
    name, ext = path.name.lower(), path.suffix.lower()
    if name.endswith(".info.json"):
        return "info"
    if ext == ".description":
        return "description"
    if ext in _SUBTITLE_EXTS:
        return "subtitle"
    if ext in _IMAGE_EXTS:
        return "thumbnail"
    return "other"


def list_files(work_dir: Path, roles: Mapping[str, str]) -> list[tuple[Path, str, str]]:
    """``(path, role, media_type)`` for every complete file, sorted; leftovers deleted."""
    found: list[tuple[Path, str, str]] = []
    for root, _dirs, names in os.walk(work_dir):
        for name in names:
            path = Path(root, name)
            if is_leftover(name):
                log.debug("deleting partial download %s", path)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            rel = str(path.relative_to(work_dir))
            role = roles.get(rel) or _role_from_name(path)
            found.append((path, role, media_type(path)))
    return sorted(found, key=lambda f: str(f[0]))


# -- no cookies or credentials in what is stored (docs/design.md, "Network and safety") --

_SECRET_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})


def _scrubbed(value: object) -> object:
    """``value`` without yt-dlp's ``cookies`` fields or credential request headers.

    yt-dlp puts a session's cookies into every format it would send them for, as
    ``cookies`` (``name=value; Domain=…``), and older versions into ``http_headers``."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            if key == "cookies":
                continue
            if key == "http_headers" and isinstance(item, dict):
                item = {k: v for k, v in item.items() if str(k).lower() not in _SECRET_HEADERS}
            out[key] = _scrubbed(item)
        return out
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    return value


def without_secrets(info: dict[str, object]) -> dict[str, object]:
    """An info dict (``sanitize_info``) without its cookies or credential headers."""
    clean = _scrubbed(info)
    return clean if isinstance(clean, dict) else {}


def scrub_info_json(path: Path) -> bool:
    """Rewrite yt-dlp's info JSON without the cookies it records per format, the
    credential headers, and the ``user:password@`` of its URLs (``workers.userinfo``).

    Returns False, having deleted the file, when it cannot be read as JSON: a file
    we cannot check for cookies is not kept.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        log.warning("info JSON %s unreadable: not kept", path.name, exc_info=True)
        with contextlib.suppress(OSError):
            path.unlink()
        return False
    clean = scrub_userinfo(_scrubbed(data))
    path.write_text(json.dumps(clean, ensure_ascii=False), encoding="utf-8")
    return True
