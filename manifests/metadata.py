"""Building a manifest's parts from a capture: its metadata, made canonical-JSON-safe
from a yt-dlp info dict, its collection record made canonical-JSON-safe, and the
``agent`` that made it."""

from __future__ import annotations

import importlib.metadata
import math
import platform
import socket
import sys
from collections.abc import Mapping

from manifests.canonical import JsonValue
from manifests.manifest import MAX_INT, Agent

# yt-dlp info-dict fields kept in ``metadata``; everything else is dropped.
_METADATA_KEYS = (
    "title",
    "uploader",
    "uploader_id",
    "channel",
    "channel_id",
    "upload_date",
    "timestamp",
    "duration",
    "description",
    "webpage_url",
    "extractor",
    "id",
    "view_count",
    "like_count",
    "tags",
    "categories",
    "original_url",
)
_MAX_DESCRIPTION = 5000  # characters kept of a description
_MAX_TEXT = 4096  # any other string longer than this is dropped
_MAX_ITEMS = 50  # tags and categories kept
_NUMBERS = frozenset({"duration", "view_count", "like_count"})
_LISTS = frozenset({"tags", "categories"})


def sanitize_metadata(info: Mapping[str, object]) -> dict[str, JsonValue]:
    """Keep the identifying fields of a yt-dlp info dict, as canonical-JSON-safe values.

    Floats cannot be signed reproducibly, so ``duration`` becomes whole seconds
    (rounded), a float with no fraction becomes an int, any other float its
    decimal string. Descriptions are cut to 5000 characters; other oversized
    strings, non-finite numbers, nested objects and unknown keys are dropped; lists
    (tags, categories) keep at most 50 strings. Lone surrogates become "?".

    >>> sanitize_metadata({"title": "t", "duration": 12.6, "formats": [...]})
    {'title': 't', 'duration': 13}
    """
    out: dict[str, JsonValue] = {}
    for key in _METADATA_KEYS:
        value = info.get(key)
        clean: JsonValue
        if key in _LISTS:
            items = value if isinstance(value, list | tuple) else ()
            texts = (_scalar(item, key) for item in items if isinstance(item, str))
            kept: list[JsonValue] = [t for t in texts if isinstance(t, str)]
            clean = kept[:_MAX_ITEMS] or None
        elif key in _NUMBERS:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            clean = _scalar(value, key) if numeric else None
        else:
            clean = _scalar(value, key)
        if clean is not None:
            out[key] = clean
    return out


def _scalar(value: object, key: str) -> str | int | None:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if key == "duration" or value.is_integer():
            value = round(value)
        else:
            return repr(value)
    if isinstance(value, int):
        return value if -MAX_INT <= value <= MAX_INT else str(value)
    if isinstance(value, str):
        text = value.encode("utf-8", "replace").decode("utf-8")
        if key == "description":
            return text[:_MAX_DESCRIPTION]
        return text if len(text) <= _MAX_TEXT else None
    return None


_MAX_DEPTH = 16  # nesting kept in a collection record (canonical JSON allows 64)


def sanitize_collection(record: Mapping[str, object]) -> dict[str, JsonValue]:
    """A collection record (docs/design.md "Collection record") as canonical-JSON-safe
    values, so that a helper's float or tuple never costs a capture its manifest.

    Floats cannot be signed reproducibly: one with no fraction becomes an int, any
    other its decimal string, a non-finite one null. Tuples become lists, keys
    strings, integers beyond +-(2**53 - 1) decimal strings, lone surrogates "?", and
    any other value its ``str``; nesting deeper than 16 levels becomes null.

    >>> sanitize_collection({"delay": 0.25, "port": 443.0, "ok": (True,)})
    {'delay': '0.25', 'port': 443, 'ok': [True]}
    """
    return {_utf8(k): _json_safe(v, 1) for k, v in record.items()}


def _utf8(value: object) -> str:
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _json_safe(value: object, depth: int) -> JsonValue:
    if depth > _MAX_DEPTH:
        return None
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        return {_utf8(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float):
        return _scalar(value, "")
    return _utf8(value)


def yt_dlp_version() -> str:
    """The installed yt-dlp's version ("" when it is not installed), from yt-dlp itself
    when this process has loaded it, else from the installed distribution's metadata:
    importing ``yt_dlp.version`` would load all of yt-dlp (its package ``__init__``) into
    a process that runs it only in capture processes."""
    loaded = sys.modules.get("yt_dlp.version")
    if loaded is not None:
        return str(getattr(loaded, "__version__", ""))
    try:
        return importlib.metadata.version("yt-dlp")
    except importlib.metadata.PackageNotFoundError:
        return ""


def agent_details(operator: str, software_version: str) -> Agent:
    """The ``agent`` of a manifest made here, now: software, yt-dlp, Python, host, operator.

    Without yt-dlp installed, ``yt_dlp`` is "not installed" (``yt_dlp_version``).
    """
    return Agent(
        software=f"preserver {software_version}",
        yt_dlp=yt_dlp_version() or "not installed",
        python=platform.python_version(),
        host=socket.gethostname(),
        operator=operator,
    )
