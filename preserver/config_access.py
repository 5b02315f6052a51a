"""``[access.<group>]``: how captures reach one politeness group (sessions, proxies).

A group is ``youtube``, ``facebook`` or a web host name without port
(``[access."example.org"]``), the same groups that share politeness limits
(``workers.platforms``). Each section is read here into an ``AccessConfig``; a bad
value is a one-line ``ConfigError`` naming the key, and never echoes a secret (a proxy
URL is shown with its credentials replaced by ``***``).

Only the file sets these sections: a group name is not a variable name, so there are
no ``PRESERVER_ACCESS_*`` variables. What the values point at (the cookies file's
existence, format and mode; whether the proxy answers) is checked before a run
captures anything and by ``doctor`` (``preserver.access_check``), not here: a command
that only reads the archive must not fail because a cookies file moved.

    [access.youtube]
    cookies_file = "secrets/yt-cookies.txt"   # Netscape format, mode 0600
    proxy = "socks5://user:pass@proxy-de.example:1080"
    proxy_on_failure_only = true
    extractor_args = { youtube = { player_client = ["default", "mweb"] } }
    label = "account-3 via proxy-de"
    audit = true         # probes use this access too (false: probes stay anonymous)
    pause_after = 3      # bot walls in a row before the group pauses
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from preserver.config_kinds import FILE, FLAG, TEXT, Kind
from preserver.errors import ConfigError

__all__ = ["ANONYMOUS", "PROXY_SCHEMES", "AccessConfig", "read_access", "redact_proxy"]

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
_PLATFORM_GROUPS = ("youtube", "facebook")
_HOST = re.compile(r"(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?"
                   r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?)*")
# an extractor key, or a provider namespace: youtubepot-bgutilhttp, youtubejsc-deno
_IE_KEY = re.compile(r"[a-z0-9_]{1,64}(?:-[a-z0-9_]{1,64})?")
_ARG = re.compile(r"[a-z0-9_]{1,64}")


@dataclass(frozen=True, kw_only=True)
class AccessConfig:
    """One ``[access.<group>]`` section, read and checked in form only."""

    group: str
    label: str = ""
    cookies_file: str = ""  # absolute path, or "" for none
    proxy: str = ""  # the URL as written, credentials and all ("" for none)
    proxy_on_failure_only: bool = False
    extractor_args: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    audit: bool = True
    pause_after: int = 3


ANONYMOUS = AccessConfig(group="")


def redact_proxy(url: str) -> str:
    """``url`` with its credentials replaced by ``***``: what may be shown of a proxy
    (``workers.redact_userinfo``, imported only when a proxy is shown)."""
    from workers import redact_userinfo

    return redact_userinfo(url)


def _group(name: str, where: str) -> str:
    """The politeness group a section names; a platform's host or a port is refused."""
    from workers import host_group  # only when a section names a web host

    text = name.strip().rstrip(".").lower()
    if text in _PLATFORM_GROUPS:
        return text
    if ":" in text or "/" in text or not _HOST.fullmatch(text):
        raise ConfigError(f"{where}access.{name}: not a group: use youtube, facebook or a "
                          "web host name without port or path, like [access.\"example.org\"]")
    group = host_group(text)
    if group != text:  # www.youtube.com, fb.watch ...
        raise ConfigError(f"{where}access.{name}: {name} belongs to {group}: write "
                          f"[access.{group}]")
    return text


def _proxy(value: object, label: str) -> str:
    text: str = TEXT.read(value, label, Path())
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # its words may quote the password ("… as 'pa'"): not shown
        raise ConfigError(f"{label}: not a proxy URL (is a character of the password not "
                          f"percent-encoded?): {redact_proxy(text)!r}") from exc
    if "://" not in text or parts.scheme.lower() not in PROXY_SCHEMES:
        scheme = parts.scheme if "://" in text else "(none)"  # "user:pass@h" has scheme "user"
        raise ConfigError(f"{label}: proxy scheme must be one of {', '.join(PROXY_SCHEMES)}, "
                          f"got {scheme!r} in {redact_proxy(text)!r}")
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{label}: expected scheme://[user:password@]host:port, got "
                          f"{redact_proxy(text)!r}")
    if port is None:
        raise ConfigError(f"{label}: the proxy URL needs a port: {redact_proxy(text)!r}")
    return text


def _values(value: object, label: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{label}: expected a string or a list of strings, got {value!r}")


def _extractor_args(value: object, label: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """``{ie = {arg = [values]}}`` (TOML), or yt-dlp's ``--extractor-args`` text
    (``"youtube:player_client=default,mweb;po_token=..."``) or a list of such texts.
    Errors never quote a value: a PO token or visitor data may be one."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    if isinstance(value, str | list) and all(isinstance(v, str) for v in
                                               (value if isinstance(value, list) else [value])):
        texts = value if isinstance(value, list) else [value]
        for n, text in enumerate(texts, 1):
            which = f"text {n} of {len(texts)}" if len(texts) > 1 else "the text"
            ie, sep, rest = text.partition(":")
            if not sep or not rest:
                raise ConfigError(f"{label}: expected IE:KEY=VALUE[,VALUE][;KEY=VALUE], as "
                                  f"yt-dlp's --extractor-args; {which} is not (its value "
                                  "is not shown: it may hold a token)")
            args = out.setdefault(ie.strip().lower(), {})
            for i, pair in enumerate(rest.split(";"), 1):
                key, eq, vals = pair.partition("=")
                if not eq:
                    raise ConfigError(f"{label}: in {which}, part {i} after "
                                      f"'{ie.strip()[:40]}:' is not KEY=VALUE (not shown: "
                                      "it may hold a token)")
                args[key.strip().lower().replace("-", "_")] = tuple(
                    v.strip() for v in vals.split(","))
    elif isinstance(value, dict):
        for ie, args in value.items():
            if not isinstance(args, dict):
                raise ConfigError(f"{label}.{ie}: expected a table of argument = [values]")
            out[ie.lower()] = {k.lower(): _values(v, f"{label}.{ie}.{k}")
                               for k, v in args.items()}
    else:
        raise ConfigError(f"{label}: expected a table like {{ youtube = {{ player_client = "
                          f"[\"default\"] }} }} or yt-dlp's IE:KEY=VALUE text, got {value!r}")
    for ie, args in out.items():
        if not _IE_KEY.fullmatch(ie):
            raise ConfigError(f"{label}: {ie!r} is not an extractor name (like youtube)")
        for key in args:
            if not _ARG.fullmatch(key):
                raise ConfigError(f"{label}: {ie}:{key} is not an argument name")
    return out


def _pause_after(value: object, label: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{label}: expected a whole number of walls (0: never pause), "
                          f"got {value!r}")
    return value


_READERS: dict[str, tuple[Kind | None, Any]] = {
    "label": (TEXT, None),
    "cookies_file": (FILE, None),
    "proxy": (None, _proxy),
    "proxy_on_failure_only": (FLAG, None),
    "extractor_args": (None, _extractor_args),
    "audit": (FLAG, None),
    "pause_after": (None, _pause_after),
}


def read_access(raw: object, where: str, base: Path) -> dict[str, AccessConfig]:
    """Every ``[access.<group>]`` of the file's ``access`` table, by group."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}access: expected tables like [access.youtube]")
    sections: dict[str, AccessConfig] = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}access.{name}: expected a table ([access.{name}])")
        group = _group(name, where)
        if group in sections:
            raise ConfigError(f"{where}access.{name}: a second section for group {group}")
        values: dict[str, Any] = {}
        for key, value in table.items():
            label = f"{where}access.{name}.{key}"
            if key not in _READERS:
                raise ConfigError(f"{where}unknown configuration key: access.{name}.{key} "
                                  f"(known: {', '.join(_READERS)})")
            kind, reader = _READERS[key]
            values[key] = kind.read(value, label, base) if kind else reader(value, label)
        if values.get("proxy_on_failure_only") and not values.get("proxy"):
            raise ConfigError(f"{where}access.{name}.proxy_on_failure_only: there is no "
                              "proxy to fall back on")
        sections[group] = AccessConfig(group=group, **values)
    return sections
