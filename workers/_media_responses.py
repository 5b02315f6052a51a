"""The media download's own HTTP responses: what the server said when the bytes were fetched.

docs/yt-dlp.md "The download's responses": the page snapshot keeps its exchange in
a WARC, but yt-dlp's download was recorded nowhere. ``Responses`` watches one run
in the child process at ``YoutubeDL.urlopen``, the one call every yt-dlp downloader
(``http``, ``hlsnative``, ``dashsegments``, and their fragments) fetches through,
and keeps, for each format ``YoutubeDL.dl`` downloads (not subtitles, not
thumbnails):

- a direct file: its response (and each refused attempt before it);
- HLS: the media playlist the downloader fetched, and its first fragment (which
  may be the init segment or the decryption key), with a master playlist the
  extractor fetched before it as ``manifest``;
- DASH: the manifest the extractor fetched (``manifest``) and the first fragment.

Each entry is canonical-JSON safe (strings, ints, bools, lists, objects; no
floats)::

    {"format_id": "hls-1", "kind": "playlist", "url": "https://cdn.example/v/index.m3u8",
     "http_status": 200, "headers": [["Content-Type", "application/vnd.apple.mpegurl"],
     ["Set-Cookie", "[removed]"]], "header_count": 2, "truncated": false,
     "time": "2026-11-21T16:24:51.123456Z", "error": ""}

A request that got no HTTP answer (a connection reset, a server that sent more
headers than Python's ``http.client`` reads) is an entry with ``http_status``
``null``, no headers and the error's text. Cookie and credential values are
``[removed]`` and URLs lose their ``user:password@`` (``workers._warc.clean_header``,
``workers.userinfo``). Everything is bounded: entries per run and per format,
headers per entry, and the characters of each name, value, URL and error.
``checked`` applies the same shape and bounds again to what the parent reads from
the child's JSON report.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from workers._warc import clean_header
from workers.userinfo import without_userinfo

__all__ = ["MAX_ENTRIES", "Responses", "checked"]

MAX_ENTRIES = 16  # per run: a page of several videos, each with video and audio
MAX_PER_FORMAT = 4  # refused attempts before the first answer that was not refused
MAX_HEADERS = 64  # per entry; ``header_count`` says how many the server sent
MAX_NAME = 128  # characters of a header name
MAX_VALUE = 2048  # characters of a header value (a long Content-Security-Policy fits)
MAX_HEADER_CHARS = 16384  # all names and values of one entry together
MAX_URL = 8192
MAX_ERROR = 300
_MAX_SEEN = 32  # responses the extractor got, kept to find a format's manifest among them
_KINDS = frozenset({"manifest", "playlist", "file", "fragment"})
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cut(text: str, limit: int) -> tuple[str, bool]:
    return (text[:limit], True) if len(text) > limit else (text, False)


def _headers(pairs: list[tuple[str, str]]) -> tuple[list[list[str]], bool]:
    """The first headers within the bounds, secrets removed; and whether any was cut."""
    kept: list[list[str]] = []
    cut, used = False, 0
    for raw_name, raw_value in pairs:
        name, name_cut = _cut(str(raw_name), MAX_NAME)
        value, value_cut = _cut(clean_header(name, str(raw_value)), MAX_VALUE)
        if len(kept) >= MAX_HEADERS or used + len(name) + len(value) > MAX_HEADER_CHARS:
            return kept, True
        kept.append([name, value])
        used += len(name) + len(value)
        cut = cut or name_cut or value_cut
    return kept, cut


def entry(
    *, format_id: str, kind: str, url: str, status: int | None, headers: list[tuple[str, str]],
    error: str = "", time: str | None = None,
) -> dict[str, Any]:
    """One response as it is recorded (see the module docstring)."""
    kept, headers_cut = _headers(headers)
    shown_url, url_cut = _cut(without_userinfo(url), MAX_URL)
    return {
        "format_id": _cut(format_id, MAX_NAME)[0], "kind": kind, "url": shown_url,
        "http_status": status, "headers": kept, "header_count": len(headers),
        "truncated": headers_cut or url_cut, "time": time or _now(),
        "error": _cut(without_userinfo(error), MAX_ERROR)[0],
    }


def _pairs(response: Any) -> list[tuple[str, str]]:
    """A yt-dlp ``Response``'s headers in order, repeated names kept (``email.message.Message``)."""
    headers = getattr(response, "headers", None)
    items = getattr(headers, "items", None)
    return [(str(n), str(v)) for n, v in items()] if callable(items) else []


class Responses:
    """The responses of one child run's downloads; ``entries`` is what the report carries."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._format: dict[str, Any] | None = None  # the format ``dl`` is downloading
        self._count = 0  # entries of that format
        self._done = True  # that format's download has answered: record nothing more of it
        self._seen: dict[str, dict[str, Any]] = {}  # what the extractor fetched, by URL
        self._listed: set[str] = set()  # manifests already recorded

    def start(self, info: dict[str, Any], *, subtitle: bool) -> None:
        """``YoutubeDL.dl`` begins one format (``info``)."""
        self._format, self._count, self._done = (None, 0, True) if subtitle else (info, 0, False)
        if subtitle:
            return
        protocol = str(info.get("protocol") or "")
        url = str(info.get("url") or "")
        manifest = str(info.get("manifest_url") or ("" if protocol.startswith("m3u8") else url))
        hls_playlist = protocol.startswith("m3u8") and manifest == url  # the downloader fetches it
        if _fragmented(protocol) and manifest and not hls_playlist and manifest not in self._listed:
            seen = self._seen.get(manifest)
            if seen is not None:
                self._listed.add(manifest)
                self._append(seen | {"format_id": self._format_id(), "kind": "manifest"})

    def stop(self) -> None:
        """``YoutubeDL.dl`` is done with that format."""
        self._format, self._done = None, True

    def answered(self, requested: str, response: Any) -> None:
        """``urlopen`` got an HTTP response (an ``HTTPError``'s ``response`` too)."""
        status = getattr(response, "status", None)
        url = str(getattr(response, "url", None) or requested)
        self._record(requested, url, status if isinstance(status, int) else None,
                     _pairs(response), "")

    def failed(self, requested: str, error: BaseException) -> None:
        """``urlopen`` got no HTTP response."""
        self._record(requested, requested, None, [], f"{type(error).__name__}: {error}")

    # -- internals ----------------------------------------------------------------------

    def _format_id(self) -> str:
        return str((self._format or {}).get("format_id") or "")

    def _record(
        self, requested: str, url: str, status: int | None, headers: list[tuple[str, str]],
        error: str,
    ) -> None:
        """``url`` answered (after redirects) the request for ``requested``."""
        if self._format is None:  # the extractor's (or a thumbnail's) request
            seen = entry(format_id="", kind="manifest", url=url, status=status, headers=headers,
                         error=error)
            for key in {requested, url}:  # a format names its manifest as requested
                if len(self._seen) < _MAX_SEEN or key in self._seen:
                    self._seen[key] = seen
            return
        if self._done:
            return
        kind = self._kind(requested)
        self._append(entry(format_id=self._format_id(), kind=kind, url=url, status=status,
                           headers=headers, error=error))
        self._count += 1
        answered = status is not None and status < 400
        # the playlist is not the download: go on to its first fragment
        if (answered and kind != "playlist") or self._count >= MAX_PER_FORMAT:
            self._done = True

    def _kind(self, requested: str) -> str:
        info = self._format or {}
        protocol = str(info.get("protocol") or "")
        if not _fragmented(protocol):
            return "file"
        playlist = str(info.get("url") or "")
        if protocol.startswith("m3u8") and self._count == 0 and requested == playlist:
            return "playlist"
        return "fragment"

    def _append(self, item: dict[str, Any]) -> None:
        if len(self.entries) < MAX_ENTRIES:
            self.entries.append(item)


def _fragmented(protocol: str) -> bool:
    return protocol.startswith(("m3u8", "http_dash", "f4m", "ism")) or "dash" in protocol


def checked(value: object) -> tuple[dict[str, Any], ...]:
    """The child's ``responses`` as the parent keeps them: entries of the right shape, bounded.

    The report is remote-influenced JSON: anything else (a float, a wrong type, too
    many entries) is dropped here rather than reaching the manifest.
    """
    if not isinstance(value, list):
        return ()
    kept: list[dict[str, Any]] = []
    for item in value[:MAX_ENTRIES]:
        if not isinstance(item, dict):
            continue
        status, headers = item.get("http_status"), item.get("headers")
        texts = ("format_id", "kind", "url", "time", "error")
        if not (
            all(isinstance(item.get(k), str) for k in texts)
            and item["kind"] in _KINDS
            and _TIME.fullmatch(item["time"])
            and (status is None or (type(status) is int and 100 <= status <= 999))
            and type(item.get("header_count")) is int and 0 <= item["header_count"] < 1 << 31
            and type(item.get("truncated")) is bool
            and isinstance(headers, list)
            and all(isinstance(h, list) and len(h) == 2 and all(isinstance(s, str) for s in h)
                    for h in headers)
        ):
            continue
        again = entry(format_id=item["format_id"], kind=item["kind"], url=item["url"],
                      status=status, headers=[(h[0], h[1]) for h in headers],
                      error=item["error"], time=item["time"])
        kept.append(again | {"header_count": max(item["header_count"], len(headers)),
                             "truncated": again["truncated"] or item["truncated"]})
    return tuple(kept)
