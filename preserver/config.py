"""Configuration: one TOML file, overridden by environment variables.

Where the file is found: ``--config PATH``, else ``$PRESERVER_CONFIG``, else
``./config.toml`` when it exists, else built-in defaults (paths then relative to
the current directory). Relative paths in the file are relative to the file.

Environment overrides, applied after the file: ``PRESERVER_DATA_DIR``,
``PRESERVER_DATABASE_URL``, ``PRESERVER_OPERATOR``, and for any key in a
section ``PRESERVER_<SECTION>_<KEY>`` (e.g. ``PRESERVER_CAPTURE_CONCURRENCY=8``,
``PRESERVER_NETWORK_ALLOW_PRIVATE=true``). Every value is checked; a bad one is a
``ConfigError`` naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from preserver.errors import ConfigError

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


@dataclass(frozen=True, kw_only=True)
class CaptureConfig:
    concurrency: int = 4
    per_host: int = 2
    max_bytes: int = 2 * 1024**3
    page_max_bytes: int = 20 * 1024**2
    timeout: float = 1800.0
    socket_timeout: float = 20.0
    max_attempts: int = 3
    retry_delay: float = 2.0
    ffmpeg: str = ""


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()
    user_agent: str = ""
    max_redirects: int = 10


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    confirmations: int = 2
    confirm_after: float = 6 * 3600.0
    recent: float = 7 * 86400.0  # a target new or changed within this is "recent"
    interval_recent: float = 86400.0  # re-check recent targets this often
    interval_stable: float = 7 * 86400.0  # and stable ones this often
    concurrency: int = 8  # probes at once in all
    per_host: int = 2  # probes at once per politeness group
    rate: int = 1  # requests per second per politeness group (YouTube, Facebook, a host)
    webhook_url: str = ""  # POSTed a JSON object on every state change; empty: none


@dataclass(frozen=True, kw_only=True)
class ProbesConfig:
    youtube_oembed_url: str = "https://www.youtube.com/oembed"
    wayback_url: str = "https://archive.org/wayback/available"


@dataclass(frozen=True, kw_only=True)
class ServeConfig:
    captures: str = "*/5 * * * *"  # cron schedules (UTC); "" disables a job
    audit: str = "*/15 * * * *"
    checkpoint: str = "0 * * * *"
    fixity: str = "0 3 * * 0"
    misfire_grace: float = 300.0
    grace: float = 60.0


@dataclass(frozen=True, kw_only=True)
class CustodyConfig:
    origin: str = ""
    tsa_urls: tuple[str, ...] = ()
    tsa_roots: str = ""


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration, validated. ``path`` is the file it came from, if any."""

    path: Path | None = None
    data_dir: Path = Path("archive")
    database_url: str = ""
    operator: str = ""
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    probes: ProbesConfig = field(default_factory=ProbesConfig)
    custody: CustodyConfig = field(default_factory=CustodyConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)

    @property
    def db_url(self) -> str:
        """The SQLAlchemy async URL; SQLite in the data directory by default."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'preserver.db'}"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"


# -- loading ------------------------------------------------------------------------


def find_config_path(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    if explicit is not None:
        return explicit
    if env.get("PRESERVER_CONFIG"):
        return Path(env["PRESERVER_CONFIG"])
    default = Path("config.toml")
    return default if default.is_file() else None


def load_config(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration file (if any), apply environment overrides, validate."""
    env = os.environ if env is None else env
    path = find_config_path(explicit, env)
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        base = path.resolve().parent
    _apply_env(raw, env)
    return _build(raw, base=base, path=path)


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    top = {"DATA_DIR": "data_dir", "DATABASE_URL": "database_url", "OPERATOR": "operator"}
    sections = {
        "CAPTURE": ("capture", CaptureConfig),
        "NETWORK": ("network", NetworkConfig),
        "AUDIT": ("audit", AuditConfig),
        "CUSTODY": ("custody", CustodyConfig),
        "SERVE": ("serve", ServeConfig),
    }
    for name, value in env.items():
        if not name.startswith("PRESERVER_") or name == "PRESERVER_CONFIG":
            continue
        rest = name.removeprefix("PRESERVER_")
        if rest in top:
            raw[top[rest]] = value
            continue
        section, _, key = rest.partition("_")
        if section in sections and key:
            table, cls = sections[section]
            known = {f.name for f in fields(cls)}
            if key.lower() in known:
                raw.setdefault(table, {})[key.lower()] = _env_value(value)


def _env_value(value: str) -> object:
    """Environment values are strings; read lists and booleans the TOML way."""
    stripped = value.strip()
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    if stripped.startswith("["):
        try:
            return tomllib.loads(f"v = {stripped}")["v"]
        except tomllib.TOMLDecodeError:
            return value
    if stripped.isdigit():
        return int(stripped)
    return value


def _build(raw: dict[str, Any], *, base: Path, path: Path | None) -> Config:
    known = {"data_dir", "database_url", "operator", "capture", "network", "audit", "probes",
             "custody", "serve"}
    _no_unknown(raw, known, "")
    data_dir = Path(_str(raw.get("data_dir", "archive"), "data_dir")).expanduser()
    if not data_dir.is_absolute():
        data_dir = base / data_dir
    capture = _section(raw, "capture", CaptureConfig, base)
    if "/" in capture.ffmpeg and not Path(capture.ffmpeg).expanduser().is_absolute():
        capture = replace(capture, ffmpeg=str(base / capture.ffmpeg))  # a path, not a name
    network = _section(raw, "network", NetworkConfig, base)
    for net in network.allow_networks:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError as exc:
            raise ConfigError(f"network.allow_networks: {net!r} is not a CIDR network") from exc
    probes_raw = raw.get("probes", {})
    if not isinstance(probes_raw, dict):
        raise ConfigError("probes: expected a table")
    _no_unknown(probes_raw, {"youtube", "wayback"}, "probes.")
    youtube = _table(probes_raw.get("youtube", {}), "probes.youtube", {"oembed_url"})
    wayback = _table(probes_raw.get("wayback", {}), "probes.wayback", {"url"})
    probes = ProbesConfig(
        youtube_oembed_url=_url(youtube.get("oembed_url", ProbesConfig.youtube_oembed_url),
                                "probes.youtube.oembed_url"),
        wayback_url=_url(wayback.get("url", ProbesConfig.wayback_url), "probes.wayback.url"),
    )
    audit = _section(raw, "audit", AuditConfig, base)
    if audit.webhook_url:
        _url(audit.webhook_url, "audit.webhook_url")
    custody = _section(raw, "custody", CustodyConfig, base)
    if custody.tsa_roots and not Path(custody.tsa_roots).is_absolute():
        custody = replace(custody, tsa_roots=str(base / custody.tsa_roots))
    database_url = _str(raw.get("database_url", ""), "database_url")
    if database_url and "://" not in database_url:
        raise ConfigError(f"database_url: expected a URL like postgresql+asyncpg://…, got {database_url!r}")
    return Config(
        path=path,
        data_dir=data_dir,
        database_url=database_url,
        operator=_str(raw.get("operator", ""), "operator"),
        capture=capture,
        network=network,
        audit=audit,
        probes=probes,
        custody=custody,
        serve=_section(raw, "serve", ServeConfig, base),
    )


def _no_unknown(raw: Mapping[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown configuration key: {prefix}{unknown[0]}")


def _table(value: object, name: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a table")
    _no_unknown(value, known, name + ".")
    return value


def _str(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def _url(value: object, key: str) -> str:
    text = _str(value, key)
    if not re.match(r"^https?://[^\s/]+", text):
        raise ConfigError(f"{key}: expected an http(s) URL, got {text!r}")
    return text


_DURATION_KEYS = {"timeout", "socket_timeout", "retry_delay", "confirm_after", "recent",
                  "interval_recent", "interval_stable", "misfire_grace", "grace"}
_NONZERO_DURATIONS = {"interval_recent", "interval_stable"}  # a check every 0 s: no
_SIZE_KEYS = {"max_bytes", "page_max_bytes"}


def _section(raw: Mapping[str, Any], name: str, cls: type[Any], base: Path) -> Any:
    table = _table(raw.get(name, {}), name, {f.name for f in fields(cls)})
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in table:
            continue
        key, value = f"{name}.{f.name}", table[f.name]
        if f.name in _DURATION_KEYS:
            values[f.name] = parse_duration(value, key)
            if f.name in _NONZERO_DURATIONS and not values[f.name]:
                raise ConfigError(f"{key}: must be longer than 0, got {value!r}")
        elif f.name in _SIZE_KEYS:
            values[f.name] = parse_size(value, key)
        elif f.type in ("int", int):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{key}: expected a positive integer, got {value!r}")
            values[f.name] = value
        elif f.type in ("bool", bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{key}: expected true or false, got {value!r}")
            values[f.name] = value
        elif str(f.type).startswith("tuple"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
            values[f.name] = tuple(value)
        else:
            values[f.name] = _str(value, key)
    return cls(**values)
