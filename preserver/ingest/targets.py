"""Canonical target keys: which cited URLs name the same thing to capture.

docs/design.md "Links and targets" (contract). ``canonical_target(url)`` is a pure
function of the URL; it never touches the network. It promises:

- ``youtube:<11-char id>`` for every YouTube video URL form: ``watch?v=`` (``v``
  anywhere in the query, also behind ``&amp;``), ``youtu.be/<id>``, ``shorts/``,
  ``embed/``, ``live/``, ``v/``, ``e/``, ``watch/``, ``watch_popup``, ``#!v=``, on
  every YouTube site and short-link host of the platform table
  (``workers.platforms.PLATFORM_HOSTS``), and ``attribution_link`` (its ``u`` is
  decoded and followed). The URL is always ``https://www.youtube.com/watch?v=<id>``:
  ``t=``/``start=`` belong to the citation, not the target. YouTube URLs that
  name no video (channels, playlists) are ``web:`` targets.
- ``facebook:<id>`` (numeric or ``pfbid…``) for posts, videos, watch, reels,
  story.php, permalink.php, photo.php, video.php, groups, events, watchparty and
  bare ``facebook.com/<numeric id>``, on every Facebook site host. The URL is the shortest
  form of the *cited* URL that still names the item and that yt-dlp accepts:
  videos and reels become ``https://www.facebook.com/watch/?v=<id>``; posts keep
  their owner (``/<owner>/posts/<id>``), because a ``pfbid`` alone does not
  resolve; a bare numeric id stays ``https://www.facebook.com/<id>``. So two
  citations with one key may carry different URLs; the key is the identity.
- ``facebook-url:<normalized url>`` (platform ``facebook``) for Facebook's
  short-link hosts (``fb.watch/…``), ``/share/…`` and Facebook URLs without an
  id (host folded to www.facebook.com): only a capture can resolve them.
- ``web:<normalized url>`` for every other http(s) URL (a platform's media
  servers' too: they name no item): scheme and host lower
  case (IDNA), default port, userinfo and fragment dropped, query order kept,
  ``utm_*``/``fbclid``/``gclid``/``si`` removed. Non-ASCII in the path and
  query is percent-encoded as UTF-8 and existing ``%XX`` escapes are kept
  (hex upper-cased), so keys and URLs are ASCII and a path written in Arabic
  letters (``/wiki/دوما``, as ``extract_links`` finds it) and the same path
  percent-encoded (``/wiki/%D8%AF…``) give one key.

Anything else raises ``InvalidURL`` with the cause: not http(s), no or bad
host, bad port, whitespace or control characters, longer than 8 KiB.
A protocol-relative ``//host/...`` (as in HTML ``href``) is read as https.

>>> canonical_target("https://youtu.be/u7qI99N8OM8?t=69").key
'youtube:u7qI99N8OM8'
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, unquote_plus, urlsplit, urlunsplit

from preserver.errors import InvalidURL
from workers import HostRole, Platform, platform_host, platform_url, youtube_watch_url

__all__ = ["MAX_URL_LENGTH", "TargetKey", "canonical_target"]

MAX_URL_LENGTH = 8 * 1024

_YT_ID = re.compile(r"[0-9A-Za-z_-]{11}")
# "videoseries" and "live_stream" are 11 characters but name no video.
_YT_PATH = re.compile(
    r"/(?:shorts|embed|live|v|e|watch)/(?!videoseries|live_stream)([0-9A-Za-z_-]{11})(?![0-9A-Za-z_-])"
)
_YT_BE_PATH = re.compile(r"/(?!videoseries|live_stream)([0-9A-Za-z_-]{11})(?![0-9A-Za-z_-])")
_YT_FRAGMENT_V = re.compile(r"(?:^|[!?&;/])v=([0-9A-Za-z_-]{11})(?![0-9A-Za-z_-])")
_FB_ID = re.compile(r"\d+|pfbid[0-9A-Za-z]+")
_FB_HEX = re.compile(r"[0-9a-f]+")
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_TRACKING = frozenset({"fbclid", "gclid", "si"})
# RFC 3986 section 2.2 reserved characters plus "%": kept as written by quote().
_SAFE = "!#$%&'()*+,/:;=?@[]~"
_FB_BASE = platform_url(Platform.FACEBOOK, "/")
_FB_NETLOC = urlsplit(_FB_BASE).netloc
_WATCH = _FB_BASE + "watch/?v="
_FB_VIDEO_PAGES = frozenset(
    {("video.php",), ("video", "video.php"), ("video", "embed"), ("watch",), ("watch", "live")}
)


@dataclass(frozen=True, kw_only=True)
class TargetKey:
    """What gets captured: one per key, shared by all citations of it."""

    key: str  # "youtube:<id>" | "facebook:<id>" | "facebook-url:<url>" | "web:<url>"
    url: str  # the URL a capture fetches
    platform: str  # "youtube" | "facebook" | "web"


def canonical_target(url: str) -> TargetKey:
    """Map an http(s) URL to its target; raise ``InvalidURL`` if it is not one."""
    return _target(_parse(url), depth=0)


def _target(parts: SplitResult, *, depth: int) -> TargetKey:
    row = platform_host(parts.hostname or "")  # workers.platforms: the one host table
    if row is not None and row.cited:  # a platform's media servers name no item
        if row.platform is Platform.FACEBOOK:
            return _facebook(parts, row.role)
        video = _youtube_id(parts, row.role, depth)
        if video is not None:
            return TargetKey(key=f"youtube:{video}", url=youtube_watch_url(video),
                             platform=Platform.YOUTUBE.value)
    normal = _normalize(parts)
    return TargetKey(key=f"web:{normal}", url=normal, platform=Platform.WEB.value)


def _parse(url: str) -> SplitResult:
    text = url.strip()
    if not text:
        raise InvalidURL("empty URL")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidURL(f"URL is {len(text)} characters long, over the limit of {MAX_URL_LENGTH}")
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text):
        raise InvalidURL(f"URL contains whitespace or control characters: {text[:80]!r}")
    if text.startswith("//"):
        text = "https:" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # bad IPv6 literal, bad port
        raise InvalidURL(f"not a valid URL ({exc}): {text[:80]!r}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        what = f"scheme {scheme!r}" if scheme else "no scheme"
        raise InvalidURL(f"not an http(s) URL ({what}): {text[:80]!r}")
    host = _host(parts.hostname or "", text)
    default = 80 if scheme == "http" else 443
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != default:
        netloc = f"{netloc}:{port}"
    return SplitResult(scheme, netloc, parts.path, parts.query, parts.fragment)


def _host(raw: str, text: str) -> str:
    """Lower-case, IDNA-encoded host; ``InvalidURL`` if it is missing or malformed."""
    if not raw:
        raise InvalidURL(f"URL has no host: {text[:80]!r}")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        pass
    try:
        host = raw.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidURL(f"URL has an invalid host name {raw[:80]!r}") from exc
    if not host or not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
        raise InvalidURL(f"URL has an invalid host name {raw[:80]!r}")
    return host


def _params(query: str) -> list[tuple[str, str]]:
    """Query parameters in order; ``&`` and ``;`` both separate (tolerates ``&amp;``)."""
    out = []
    for field in re.split(r"[&;]", query):
        name, _, value = field.partition("=")
        out.append((unquote_plus(name), unquote_plus(value)))
    return out


def _param(query: str, *names: str) -> str | None:
    for name, value in _params(query):
        if name in names:
            return value
    return None


def _youtube_id(parts: SplitResult, role: HostRole, depth: int) -> str | None:
    path = parts.path
    if role is HostRole.SHORT:  # youtu.be/<id>
        match = _YT_BE_PATH.match(path)
        return match.group(1) if match else None
    if path.rstrip("/") == "/attribution_link":
        inner = _param(parts.query, "u")
        if inner is None or depth >= 3:
            return None
        if inner.startswith("/") and not inner.startswith("//"):
            inner = platform_url(Platform.YOUTUBE, inner)
        try:
            target = _target(_parse(inner), depth=depth + 1)
        except InvalidURL:
            return None
        return target.key.removeprefix("youtube:") if target.platform == "youtube" else None
    video = _param(parts.query, "v")
    if video is not None and _YT_ID.fullmatch(video):
        return video
    match = _YT_PATH.match(path) or _YT_FRAGMENT_V.search(parts.fragment)
    return match.group(1) if match else None


def _facebook(parts: SplitResult, role: HostRole) -> TargetKey:
    if role is HostRole.SHORT:  # fb.watch, fb.me: only a capture can resolve them
        normal = _normalize(parts)
        return TargetKey(key=f"facebook-url:{normal}", url=normal, platform=Platform.FACEBOOK.value)
    if parts.path in ("", "/") and parts.fragment.startswith("!/"):  # old "#!/" links
        inner = urlsplit(platform_url(Platform.FACEBOOK, parts.fragment[1:]))
        parts = parts._replace(path=inner.path, query=inner.query, fragment="")
    found = _facebook_id(parts)
    if found is None:
        normal = _normalize(parts._replace(netloc=_FB_NETLOC))
        return TargetKey(key=f"facebook-url:{normal}", url=normal, platform=Platform.FACEBOOK.value)
    item, url = found
    return TargetKey(key=f"facebook:{item}", url=url, platform=Platform.FACEBOOK.value)


def _facebook_id(parts: SplitResult) -> tuple[str, str] | None:
    """(id, canonical URL) of a Facebook item URL, or None when it names none."""
    segs = [s for s in parts.path.split("/") if s]
    query = parts.query
    base = _FB_BASE
    if not segs or segs[0] == "share":
        return None
    head, n = segs[0], len(segs)
    if head in ("story.php", "permalink.php"):
        item = _fb(_param(query, "story_fbid"))
        owner = _fb(_param(query, "id"))
        if item and owner:
            return item, f"{base}permalink.php?story_fbid={item}&id={owner}"
        return (item, f"{base}story.php?story_fbid={item}") if item else None
    if head == "photo.php" or segs == ["photo"]:
        item = _fb(_param(query, "fbid"))
        return (item, f"{base}photo.php?fbid={item}") if item else None
    if tuple(segs) in _FB_VIDEO_PAGES:
        item = _fb(_param(query, "v", "video_id"))
        return (item, _WATCH + item) if item else None
    if head == "reel" and n >= 2:
        item = _fb(segs[1])
        return (item, _WATCH + item) if item else None
    if head == "watchparty" and n >= 2:
        item = _fb(segs[1])
        return (item, f"{base}watchparty/{item}") if item else None
    if head == "events" and n >= 2:
        item = _fb(segs[2] if n >= 3 and _fb(segs[2]) else segs[1])
        return (item, f"{base}events/{item}") if item else None
    if head == "groups" and n >= 4 and segs[2] in ("permalink", "posts"):
        hexed = n >= 5 and _FB_HEX.fullmatch(segs[3]) and _fb(segs[4])
        item = _fb(segs[4] if hexed else segs[3])
        return (item, f"{base}groups/{_encode(segs[1])}/posts/{item}/") if item else None
    if n >= 3 and segs[1] in ("videos", "photos"):
        item = _fb(segs[3] if n >= 4 and _fb(segs[3]) else segs[2])
        if item and segs[1] == "videos":
            return item, _WATCH + item
        return (item, f"{base}photo.php?fbid={item}") if item else None
    if n >= 3 and segs[1] == "posts":
        item = _fb(segs[2])
        return (item, f"{base}{_encode(segs[0])}/posts/{item}") if item else None
    if n == 1 and head.isascii() and head.isdigit():
        return head, f"{base}{head}"
    return None


def _fb(value: str | None) -> str | None:
    return value if value is not None and _FB_ID.fullmatch(value) else None


def _normalize(parts: SplitResult) -> str:
    """The ``web:`` form: see the module docstring."""
    path = _encode(parts.path) or "/"
    kept = [
        field
        for field in parts.query.split("&")
        if field and not _is_tracking(unquote_plus(field.partition("=")[0]).lower())
    ]
    query = _encode("&".join(kept))
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, query, ""))


def _is_tracking(name: str) -> bool:
    return name.startswith("utm_") or name in _TRACKING


def _encode(text: str) -> str:
    """Percent-encode what is not allowed as written (non-ASCII as UTF-8); upper-case escapes.

    Characters already valid in a URL, ``%`` among them, stay as written, so
    existing escapes are not encoded twice and encoding is idempotent.
    """
    encoded = quote(text, safe=_SAFE)
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), encoded)
