"""The kinds of configuration value: each reads a TOML value or an environment string.

A ``Kind`` is declared on each setting in ``preserver.config``
(``timeout: float = setting(DURATION, 1800.0)``); its ``read`` checks the value and
turns it into the setting, raising a one-line ``ConfigError`` that starts with the label
it is given (the key, and the file or the variable it came from). ``from_env`` reads an
environment string the way the file's value would be written: ``true``/``false``,
integers, lists in TOML array syntax; durations, sizes, URLs and paths as they are.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from preserver.errors import ConfigError
from storage import Retention

_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4, None: 1,
}


def parse_duration(value: object, key: str) -> float:
    """``"6h"`` / ``"30m"`` / ``"20s"`` / ``"500ms"`` / a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a duration like '30s' or '6h', got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ConfigError(f"{key}: a duration cannot be negative ({value})")
        return float(value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return int(m.group(1)) * _UNITS[m.group(2)]
    raise ConfigError(f"{key}: expected a duration like '30s' or '6h', got {value!r}")


def parse_size(value: object, key: str) -> int:
    """``"2GiB"`` / ``"20 MiB"`` / a number of bytes -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and (m := _SIZE.match(value)):
        unit = m.group(2).lower() if m.group(2) else None
        return int(m.group(1)) * _SIZE_UNITS[unit]
    raise ConfigError(f"{key}: expected a size like '2GiB' or a number of bytes, got {value!r}")


# -- kinds: one reader per declared type ---------------------------------------------

Reader = Callable[[object, str, Path], Any]  # (value, label for errors, base dir) -> setting


@dataclass(frozen=True, kw_only=True)
class Kind:
    """A declared value type. ``read`` turns a TOML value (or the default) into the
    setting or raises ``ConfigError`` starting with the label it is given; ``from_env``
    turns an environment string into the TOML value meaning the same, leaving what it
    cannot read as the string, for ``read`` to reject."""

    read: Reader
    from_env: Callable[[str], object] = str


def _text(value: object, key: str, base: Path | None = None) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def _url(value: object, key: str, base: Path | None = None) -> str:
    text = _text(value, key)
    if not re.match(r"^https?://[^\s/]+", text):
        raise ConfigError(f"{key}: expected an http(s) URL, got {text!r}")
    return text


def _optional_url(value: object, key: str, base: Path) -> str:
    return _url(value, key) if value != "" else ""


def _database_url(value: object, key: str, base: Path) -> str:
    text = _text(value, key)
    if text and "://" not in text:
        raise ConfigError(f"{key}: expected a URL like postgresql+asyncpg://…, got {text!r}")
    return text


def _cidr(value: object, key: str, base: Path | None = None) -> str:
    text = _text(value, key)
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise ConfigError(f"{key}: {text!r} is not a CIDR network") from exc
    return text


def _list_of(item: Callable[[object, str], str]) -> Reader:
    def read(value: object, key: str, base: Path) -> tuple[str, ...]:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of strings like [\"a\", \"b\"], "
                              f"got {value!r}")
        return tuple(item(v, key) for v in value)
    return read


def _list_env(text: str) -> object:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _count(value: object, key: str, base: Path) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{key}: expected a positive integer, got {value!r}")
    return value


def _int_env(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        return text


def _flag(value: object, key: str, base: Path) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    return value


def _interval(value: object, key: str, base: Path) -> float:
    seconds = parse_duration(value, key)
    if not seconds:  # a check every 0 s: no
        raise ConfigError(f"{key}: must be longer than 0, got {value!r}")
    return seconds


def _local(value: object, key: str, base: Path) -> Path:
    text = _text(str(value) if isinstance(value, PurePath) else value, key)  # default: a Path
    return base / Path(text).expanduser()


def _file(value: object, key: str, base: Path) -> str:
    return str(_local(value, key, base)) if value != "" else ""


def _viewport(value: object, key: str, base: Path) -> tuple[int, int]:
    if isinstance(value, tuple):  # the default
        return value
    text = _text(value, key)
    m = re.fullmatch(r"\s*(\d{2,5})\s*x\s*(\d{2,5})\s*", text)
    if m is None or not (200 <= int(m[1]) <= 4096 and 200 <= int(m[2]) <= 4096):
        raise ConfigError(f"{key}: expected WIDTHxHEIGHT in pixels, each 200-4096, like "
                          f"\"1280x800\", got {text!r}")
    return int(m[1]), int(m[2])


def _program(value: object, key: str, base: Path) -> str:
    text = _text(value, key)
    return str(_local(text, key, base)) if "/" in text else text  # a name is looked up on PATH


def _choice(*allowed: str) -> Reader:
    def read(value: object, key: str, base: Path) -> str:
        if value not in allowed:
            raise ConfigError(f"{key}: expected one of {', '.join(map(repr, allowed))}, "
                              f"got {value!r}")
        return str(value)
    return read


def _retention(value: object, key: str, base: Path) -> Retention:
    if isinstance(value, Retention):  # the default
        return value
    try:
        return Retention.parse(_text(value, key))
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from exc


def _endpoint(value: object, key: str, base: Path) -> str:
    """An S3 endpoint: an http(s) URL botocore can use, never with ``user:password@``
    (credentials come from the AWS chain; an endpoint is shown in messages)."""
    text = _text(value, key)
    if not text:
        return ""
    if "@" in text.partition("://")[2].partition("/")[0]:  # not echoed: it may be a secret
        raise ConfigError(f"{key}: must not carry credentials (user:password@); set "
                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile")
    _url(text, key)
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{key}: {text!r} is not a URL: {exc}") from exc
    if not parts.hostname or any(c.isspace() or not c.isprintable() for c in text):
        raise ConfigError(f"{key}: expected an http(s) URL like 'http://minio:9000', "
                          f"got {text!r}")
    return text


def _bucket(value: object, key: str, base: Path) -> str:
    text = _text(value, key)
    if text and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", text):
        raise ConfigError(f"{key}: {text!r} is not an S3 bucket name (3-63 lowercase "
                          "letters, digits, dots and hyphens)")
    return text


DURATION = Kind(read=lambda value, key, base: parse_duration(value, key))
INTERVAL = Kind(read=_interval)  # a duration longer than 0
SIZE = Kind(read=lambda value, key, base: parse_size(value, key))
COUNT = Kind(read=_count, from_env=_int_env)  # an integer of at least 1
FLAG = Kind(read=_flag, from_env=lambda text: {"true": True, "false": False}.get(
    text.strip().lower(), text))
TEXT = Kind(read=_text)
URL = Kind(read=_url)  # http(s)
OPTIONAL_URL = Kind(read=_optional_url)  # http(s), or "" for none
DATABASE_URL = Kind(read=_database_url)  # any scheme://, or "" for SQLite in data_dir
CIDRS = Kind(read=_list_of(_cidr), from_env=_list_env)
URLS = Kind(read=_list_of(_url), from_env=_list_env)
DIRECTORY = Kind(read=_local)  # a Path, relative to the file's directory
FILE = Kind(read=_file)  # a path relative to the file's directory, or "" for none
VIEWPORT = Kind(read=_viewport)  # "1280x800": (width, height) in pixels
PROGRAM = Kind(read=_program)  # a name on PATH, or a path relative to the file's directory
BACKEND = Kind(read=_choice("local", "s3"))  # [storage] backend
LOCK_MODE = Kind(read=_choice("COMPLIANCE", "GOVERNANCE"))  # S3 Object Lock mode
RETENTION = Kind(read=_retention)  # "10y" or "3650d": storage.Retention
BUCKET = Kind(read=_bucket)  # an S3 bucket name, or "" for none
ENDPOINT = Kind(read=_endpoint)  # an S3 endpoint URL without credentials, or "" for AWS
