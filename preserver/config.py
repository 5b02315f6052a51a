"""Configuration: one TOML file, overridden by environment variables.

Where the file is found: ``--config PATH``, else ``$PRESERVER_CONFIG``, else
``./config.toml`` when it exists, else built-in defaults (paths then relative to
the current directory). Relative paths in the file are relative to the file.

Each setting is declared once, on its dataclass field, with its kind
(``preserver.config_kinds``) and default:
``timeout: float = setting(DURATION, 1800.0)``. The kind reads the TOML value (or the
environment string), checks it and says what was expected; the TOML key, the
environment variable and the error's label all follow from the declaration. A bad
value is a one-line ``ConfigError`` naming the key and where it came from (the file,
or the variable); so is an unknown key.

Environment overrides, applied over the file. Every key has one variable:
``PRESERVER_<KEY>`` at the top level (``PRESERVER_DATA_DIR``),
``PRESERVER_<SECTION>_<KEY>`` in a section (``PRESERVER_CAPTURE_CONCURRENCY=8``), with
a subtable's name joined in (``[probes.youtube] oembed_url`` is
``PRESERVER_PROBES_YOUTUBE_OEMBED_URL``). The value is read as its key's kind:
durations and sizes as in the file (``30s``, ``2GiB``), ``true``/``false``, integers,
and lists in TOML array syntax (``PRESERVER_CUSTODY_TSA_URLS='["https://tsa.example/"]'``).
Any other ``PRESERVER_`` variable is an error, except those in ``NOT_SETTINGS``
(``PRESERVER_CONFIG``, and the Save Page Now keys ``PRESERVER_SPN_ACCESS_KEY`` and
``PRESERVER_SPN_SECRET``, which are secrets and never part of a ``Config``) or starting with ``NOT_SETTINGS_PREFIX`` (the test suite's
``PRESERVER_TEST_*``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from preserver.config_access import ANONYMOUS, AccessConfig, read_access
from preserver.config_kinds import (
    BACKEND,
    BUCKET,
    CIDRS,
    COUNT,
    DATABASE_URL,
    DIRECTORY,
    DURATION,
    ENDPOINT,
    FILE,
    FLAG,
    INTERVAL,
    LOCK_MODE,
    OPTIONAL_URL,
    PROGRAM,
    RETENTION,
    SIZE,
    TEXT,
    URL,
    URLS,
    VIEWPORT,
    Kind,
)
from preserver.errors import ConfigError
from storage import Retention

T = TypeVar("T")

# PRESERVER_CONFIG names the file (read by find_config_path). The Save Page Now keys are
# secrets: read from the environment only when a witness job runs (preserver.witness.spn),
# never held in a Config, so no config dump or error can show them.
NOT_SETTINGS = frozenset({"PRESERVER_CONFIG", "PRESERVER_SPN_ACCESS_KEY", "PRESERVER_SPN_SECRET"})
NOT_SETTINGS_PREFIX = "PRESERVER_TEST_"  # the test suite's own (PRESERVER_TEST_POSTGRES_URL)
_KIND, _KEY = "config_kind", "config_key"


def setting(kind: Kind, default: T, *, key: str = "") -> T:
    """A configuration field: its kind, its default, and its TOML key when that is not
    the field's name (dotted for a subtable: ``"youtube.oembed_url"``)."""
    return field(default=default, metadata={_KIND: kind, _KEY: key})


# -- the settings --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CaptureConfig:
    concurrency: int = setting(COUNT, 4)
    per_host: int = setting(COUNT, 2)
    max_bytes: int = setting(SIZE, 2 * 1024**3)
    page_max_bytes: int = setting(SIZE, 20 * 1024**2)
    timeout: float = setting(DURATION, 1800.0)
    socket_timeout: float = setting(DURATION, 20.0)
    max_attempts: int = setting(COUNT, 3)
    retry_delay: float = setting(DURATION, 2.0)
    ffmpeg: str = setting(PROGRAM, "")


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    allow_private: bool = setting(FLAG, False)
    allow_networks: tuple[str, ...] = setting(CIDRS, ())
    user_agent: str = setting(TEXT, "")
    max_redirects: int = setting(COUNT, 10)
    # the local address captures connect from (httpx and yt-dlp; not Chromium): "" the
    # system's choice. A machine with several outside addresses gives each worker one.
    source_address: str = setting(TEXT, "")


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    confirmations: int = setting(COUNT, 2)
    confirm_after: float = setting(DURATION, 6 * 3600.0)
    recent: float = setting(DURATION, 7 * 86400.0)  # new or changed within this: "recent"
    interval_recent: float = setting(INTERVAL, 86400.0)  # re-check recent targets this often
    interval_stable: float = setting(INTERVAL, 7 * 86400.0)  # and stable ones this often
    concurrency: int = setting(COUNT, 8)  # probes at once in all
    per_host: int = setting(COUNT, 2)  # probes at once per politeness group
    rate: int = setting(COUNT, 1)  # requests per second per politeness group
    webhook_url: str = setting(OPTIONAL_URL, "")  # POSTed a JSON object on every state change


@dataclass(frozen=True, kw_only=True)
class ProbesConfig:
    youtube_oembed_url: str = setting(URL, "https://www.youtube.com/oembed",
                                      key="youtube.oembed_url")
    wayback_url: str = setting(URL, "https://archive.org/wayback/available", key="wayback.url")


@dataclass(frozen=True, kw_only=True)
class ServeConfig:
    captures: str = setting(TEXT, "*/5 * * * *")  # cron schedules (UTC); "" disables a job
    audit: str = setting(TEXT, "*/15 * * * *")
    checkpoint: str = setting(TEXT, "0 * * * *")
    fixity: str = setting(TEXT, "0 3 * * 0")
    misfire_grace: float = setting(DURATION, 300.0)
    grace: float = setting(DURATION, 60.0)


@dataclass(frozen=True, kw_only=True)
class QueueConfig:
    """Many workers on one database (``preserver worker``): docs/design.md "Job queue and
    many workers"."""

    lease: float = setting(INTERVAL, 120.0)  # a claim's lease, renewed while it is worked on
    poll: float = setting(INTERVAL, 5.0)  # longest idle wait without a notification
    # the per-host limit counts every worker's running jobs (PostgreSQL), not this one's
    global_per_host: bool = setting(FLAG, True)


@dataclass(frozen=True, kw_only=True)
class CustodyConfig:
    origin: str = setting(TEXT, "")
    tsa_urls: tuple[str, ...] = setting(URLS, ())
    tsa_roots: str = setting(FILE, "")


@dataclass(frozen=True, kw_only=True)
class BrowserConfig:
    enabled: bool = setting(FLAG, True)  # a screenshot, the rendered page and its PDF per target
    executable: str = setting(PROGRAM, "chromium")  # Debian's chromium package
    concurrency: int = setting(COUNT, 2)  # pages open at once, in all
    timeout: float = setting(DURATION, 60.0)  # the whole browser part of one target
    settle: float = setting(DURATION, 10.0)  # scripts' time to settle (network idle)
    viewport: tuple[int, int] = setting(VIEWPORT, (1280, 800))
    max_height: int = setting(COUNT, 15000)  # screenshot height cap, in pixels
    max_bytes: int = setting(SIZE, 100 * 1024**2)  # all responses of one page together


@dataclass(frozen=True, kw_only=True)
class CollectionConfig:
    ip_echo_url: str = setting(OPTIONAL_URL, "https://checkip.amazonaws.com/")
    ntp_server: str = setting(TEXT, "pool.ntp.org")


@dataclass(frozen=True, kw_only=True)
class WitnessConfig:
    """An independent witness (preserver.witness): each captured URL also submitted to the
    Internet Archive's Save Page Now 2 API. Off by default: nothing is sent."""

    save_page_now: bool = setting(FLAG, False)
    spn_url: str = setting(URL, "https://web.archive.org/save")
    if_not_archived_within: float = setting(DURATION, 30 * 86400.0)  # 0: always a new capture
    interval: float = setting(DURATION, 10.0)  # between two Save Page Now requests
    poll_interval: float = setting(INTERVAL, 5.0)  # between two status requests of one job
    poll_timeout: float = setting(INTERVAL, 300.0)  # a job still pending this long: retried
    max_attempts: int = setting(COUNT, 6)  # then the witness job fails (shown by `show`)
    retry_delay: float = setting(INTERVAL, 600.0)  # first backoff, doubling, capped at 24 h


@dataclass(frozen=True, kw_only=True)
class StorageConfig:
    """Where blobs are kept (docs/design.md "Blob store"): the data directory (``local``,
    the default) or an S3-compatible bucket with Object Lock (``s3``). Credentials come
    from the standard AWS chain (environment, profile, role), never from this file."""

    backend: str = setting(BACKEND, "local")
    endpoint_url: str = setting(ENDPOINT, "")  # "": AWS itself
    bucket: str = setting(BUCKET, "")
    prefix: str = setting(TEXT, "")  # keys are <prefix>/sha256/ab/cd/<hex>
    region: str = setting(TEXT, "")
    object_lock_mode: str = setting(LOCK_MODE, "COMPLIANCE")
    retention: Retention = setting(RETENTION, Retention(years=10))  # noqa: RUF009 (immutable)
    part_size: int = setting(SIZE, 16 * 1024**2)  # multipart above this; memory per upload


@dataclass(frozen=True, kw_only=True)
class WebConfig:
    """``preserver web``: the pages and the HTTP API (docs/web.md)."""
    host: str = setting(TEXT, "127.0.0.1")
    port: int = setting(COUNT, 8080)
    forwarded_allow_ips: str = setting(TEXT, "127.0.0.1")  # proxies whose X-Forwarded-* count
    session_lifetime: float = setting(DURATION, 12 * 3600.0)
    login_window: float = setting(DURATION, 900.0)  # failed sign-ins are counted over this
    login_attempts: int = setting(COUNT, 5)  # per name within the window, then 429
    login_attempts_per_address: int = setting(COUNT, 20)  # per address, then 429
    max_upload: int = setting(SIZE, 100 * 1024**2)  # the largest report an upload may be


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration, validated. ``path`` is the file it came from, if any."""

    path: Path | None = None
    data_dir: Path = setting(DIRECTORY, Path("archive"))  # noqa: RUF009 (immutable)
    database_url: str = setting(DATABASE_URL, "")
    operator: str = setting(TEXT, "")
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    probes: ProbesConfig = field(default_factory=ProbesConfig)
    custody: CustodyConfig = field(default_factory=CustodyConfig)
    browser: BrowserConfig = field(default_factory=BrowserConfig)
    collection: CollectionConfig = field(default_factory=CollectionConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    witness: WitnessConfig = field(default_factory=WitnessConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    web: WebConfig = field(default_factory=WebConfig)
    access: Mapping[str, AccessConfig] = field(default_factory=dict)  # [access.<group>], file only

    def access_for(self, group: str) -> AccessConfig:
        """The access of politeness group ``group``: its section, else anonymous and direct."""
        return self.access.get(group) or replace(ANONYMOUS, group=group)

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


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One declared setting, where it lives (``section``, ``name`` on the dataclass) and
    how it is named in the file (``path``) and in the environment (``env``)."""

    section: str  # the Config field holding it; "" at the top level
    name: str
    path: tuple[str, ...]  # TOML keys: ("probes", "youtube", "oembed_url")
    kind: Kind
    default: object

    @property
    def key(self) -> str:
        return ".".join(self.path)

    @property
    def env(self) -> str:
        return "PRESERVER_" + "_".join(self.path).upper()


def _declared(cls: type[Any], section: str) -> Iterator[Setting]:
    for f in fields(cls):
        if _KIND in f.metadata:
            key = (f.metadata[_KEY] or f.name).split(".")
            yield Setting(section=section, name=f.name, path=tuple(p for p in (section, *key) if p),
                          kind=f.metadata[_KIND], default=f.default)


_SECTIONS: dict[str, type[Any]] = {  # the [tables]: Config's fields that are dataclasses
    name: hint for name, hint in get_type_hints(Config).items()
    if isinstance(hint, type) and is_dataclass(hint)}
SETTINGS = (*_declared(Config, ""), *(s for name, cls in _SECTIONS.items()
                                      for s in _declared(cls, name)))
_BY_ENV = {s.env: s for s in SETTINGS}


# -- loading ------------------------------------------------------------------------


def with_operator(config: Config, operator: str | None = None) -> Config:
    """``config`` with ``operator`` (``--operator``) over the file's and the environment's,
    surrounding whitespace removed. The commands that collect evidence need a name: the
    Berkeley Protocol asks for the collector's, and every manifest and custody event
    carries it; so an empty one is a ``ConfigError`` naming the three ways to set it."""
    name = (config.operator if operator is None else operator).strip()
    if not name:
        raise ConfigError('no operator: evidence needs the name of who collects it; give '
                          '--operator NAME, set PRESERVER_OPERATOR, or write operator = '
                          '"NAME" in config.toml')
    return replace(config, operator=name)


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
    return _build(raw, env, base=base, path=path)


def _build(raw: Mapping[str, Any], env: Mapping[str, str], *, base: Path,
           path: Path | None) -> Config:
    where = f"{path}: " if path is not None else ""
    raw = dict(raw)
    access = read_access(raw.pop("access", None), where, base)
    _check_keys(raw, (), where)
    for name in sorted(env):
        if name.startswith("PRESERVER_") and name not in _BY_ENV and name not in NOT_SETTINGS \
                and not name.startswith(NOT_SETTINGS_PREFIX):
            raise ConfigError(f"unknown environment variable {name}: no configuration key "
                              "has that name")
    values: dict[str, dict[str, Any]] = {name: {} for name in ("", *_SECTIONS)}
    for s in SETTINGS:
        if s.env in env:
            value, label = s.kind.from_env(env[s.env]), f"{s.env} ({s.key})"
        elif (found := _lookup(raw, s.path)) is not _MISSING:
            value, label = found, f"{where}{s.key}"
        else:
            value, label = s.default, f"{s.key} (default)"
        values[s.section][s.name] = s.kind.read(value, label, base)
    sections = {name: cls(**values[name]) for name, cls in _SECTIONS.items()}
    _check_storage(sections["storage"], where)
    return Config(path=path, **values[""], **sections, access=access)


def _check_storage(storage: StorageConfig, where: str) -> None:
    """What no single ``[storage]`` key can check alone."""
    if storage.backend == "s3" and not storage.bucket:
        raise ConfigError(f'{where}storage.bucket: backend = "s3" needs a bucket')
    if not 5 * 1024**2 <= storage.part_size <= 5 * 1024**3:
        raise ConfigError(f"{where}storage.part_size: must be 5MiB to 5GiB (S3's part "
                          f"sizes), got {storage.part_size}")
    if storage.prefix.startswith("/") or ".." in storage.prefix.split("/"):
        raise ConfigError(f"{where}storage.prefix: must be relative, without '..', "
                          f"got {storage.prefix!r}")


_MISSING = object()


def _lookup(raw: Mapping[str, Any], path: tuple[str, ...]) -> object:
    node: object = raw
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _check_keys(table: Mapping[str, Any], prefix: tuple[str, ...], where: str) -> None:
    """Every key in the file is a declared setting, or a table leading to one."""
    for name, value in table.items():
        path = (*prefix, name)
        if any(s.path == path for s in SETTINGS):
            continue
        if not any(s.path[:len(path)] == path for s in SETTINGS):
            raise ConfigError(f"{where}unknown configuration key: {'.'.join(path)}")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}{'.'.join(path)}: expected a table")
        _check_keys(value, path, where)
