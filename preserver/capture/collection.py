"""The run-level collection record: who collected, from where, by which clock, with what.

Measured once per capture run and written into every capture manifest of that run
(docs/design.md "Collection record"), as the Berkeley Protocol asks of online evidence:
the collector's name, the collecting machine's outside address, a time stamp whose
clock is known, and the software used.

- ``outside_address``: ``[collection] ip_echo_url`` asked through the application's one
  HTTP client (``preserver.net.http_client``: the address rules hold), within
  ``ECHO_TIMEOUT`` seconds and ``ECHO_MAX_BYTES`` of answer, which must be an IP address;
- ``clock``: the offset from ``[collection] ntp_server`` (``preserver.capture.sntp``);
- ``versions``: preserver, yt-dlp, ffmpeg and Chromium (their own first line), Python.

``RunCollection`` holds one run's record: started at the run's first claim, awaited
by each recording.

The three are measured at once, so a run waits at most the longest timeout, and not at
all for a part that is disabled. A failure is recorded with its reason, never raised:
the evidence is collected either way, and the record says what could not be measured.
No value is a float (manifests are float-free canonical JSON).

    >>> record = await measure_collection(config, ffmpeg="/usr/bin/ffmpeg",
    ...                                   chromium="/usr/bin/chromium")
    >>> record.clock.offset_ms, record.outside_address.address
    (-3, '203.0.113.7')
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import platform
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from manifests import yt_dlp_version as installed_yt_dlp
from preserver.capture.sntp import SntpFailed, query_clock
from preserver.config import Config
from preserver.custody.events import rfc3339
from preserver.db.models import utc_now
from preserver.net import http_client
from preserver.version import __version__
from workers import AddressRefused, without_userinfo

log = logging.getLogger(__name__)

ECHO_TIMEOUT = 5.0  # seconds for the whole echo exchange
ECHO_MAX_BYTES = 256  # an address in text is at most 45 characters
CLOCK_TIMEOUT = 3.0  # seconds for the SNTP exchange, name lookup included
VERSION_TIMEOUT = 5.0  # seconds for `ffmpeg -version`, `chromium --version`
CLOCK_WARN_MS = 1000  # the run and doctor warn past this offset


@dataclass(frozen=True, kw_only=True)
class OutsideAddress:
    """What the echo service saw as our address. ``error`` is "" or why there is none."""

    url: str  # "" when not asked
    address: str
    asked_at: str  # RFC 3339 UTC, "" when not asked
    error: str


@dataclass(frozen=True, kw_only=True)
class Clock:
    """The NTP server's clock minus ours, and the round trip that bounds its error;
    ``None`` when not measured (``error`` says why)."""

    server: str  # "" when not measured
    address: str  # the server's address asked
    offset_ms: int | None
    delay_ms: int | None
    measured_at: str
    error: str


@dataclass(frozen=True, kw_only=True)
class Versions:
    """The software that collected: "" for a program that is absent (or disabled)."""

    preserver: str
    yt_dlp: str
    ffmpeg: str  # the first line of `ffmpeg -version`
    chromium: str  # the first line of `<[browser] executable> --version`
    python: str


@dataclass(frozen=True, kw_only=True)
class CollectionRecord:
    """The run-level part of every manifest's ``collection`` member."""

    operator: str
    host: str
    outside_address: OutsideAddress
    clock: Clock
    versions: Versions

    def as_json(self) -> dict[str, Any]:
        """The record's JSON object (docs/design.md "Collection record")."""
        return asdict(self)

    @property
    def clock_warning(self) -> str | None:
        """What to say when the clock is off by more than ``CLOCK_WARN_MS``."""
        return clock_warning(self.clock)


def clock_warning(clock: Clock) -> str | None:
    if clock.offset_ms is None or abs(clock.offset_ms) <= CLOCK_WARN_MS:
        return None
    return (f"this machine's clock is {abs(clock.offset_ms) / 1000:.1f} s "
            f"{'behind' if clock.offset_ms > 0 else 'ahead of'} {clock.server}'s "
            f"(round trip {clock.delay_ms} ms): capture times are this clock's; set it right "
            "(systemd-timesyncd, chrony)")


def _now() -> str:
    return rfc3339(utc_now())


class _BadAnswer(Exception):
    """The echo answered, but not with an address."""


async def _echo(http: httpx.AsyncClient, url: str) -> str:
    async with http.stream("GET", url, headers={"Accept": "text/plain"}) as response:
        if response.status_code != 200:
            raise _BadAnswer(f"HTTP {response.status_code}")
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > ECHO_MAX_BYTES:
                raise _BadAnswer(f"the answer is longer than {ECHO_MAX_BYTES} bytes")
    text = body.decode("ascii", "replace").strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise _BadAnswer(f"the answer {text[:64]!r} is not an IP address") from exc


async def ask_outside_address(config: Config, *, timeout: float = ECHO_TIMEOUT) -> OutsideAddress:
    """Ask ``[collection] ip_echo_url`` which address it sees us from."""
    url = config.collection.ip_echo_url
    if not url:
        return OutsideAddress(url="", address="", asked_at="",
                              error="not asked: [collection] ip_echo_url is empty")
    shown, asked_at = without_userinfo(url), _now()
    try:
        async with asyncio.timeout(timeout), http_client(config.network, timeout=timeout) as http:
            address = await _echo(http, url)
    except TimeoutError:
        error = f"no answer within {timeout:g} s"
    except AddressRefused as exc:
        error = f"refused by the address rules ([network]): {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except (httpx.InvalidURL, OSError) as exc:  # a URL httpx cannot use; a socket error
        error = f"{type(exc).__name__}: {exc}"
    except _BadAnswer as exc:
        error = str(exc)
    else:
        return OutsideAddress(url=shown, address=address, asked_at=asked_at, error="")
    return OutsideAddress(url=shown, address="", asked_at=asked_at, error=error)


async def measure_clock(config: Config, *, timeout: float = CLOCK_TIMEOUT) -> Clock:
    """The offset from ``[collection] ntp_server``, one SNTP exchange."""
    server = config.collection.ntp_server.strip()
    if not server:
        return Clock(server="", address="", offset_ms=None, delay_ms=None, measured_at="",
                     error="not measured: [collection] ntp_server is empty")
    measured_at = _now()
    try:
        reading = await query_clock(server, timeout=timeout)
    except SntpFailed as exc:
        return Clock(server=server, address="", offset_ms=None, delay_ms=None,
                     measured_at=measured_at, error=str(exc))
    return Clock(server=server, address=reading.address, offset_ms=reading.offset_ms,
                 delay_ms=reading.delay_ms, measured_at=measured_at, error="")


def first_line(program: str | None, flag: str, *, timeout: float = VERSION_TIMEOUT) -> str:
    """The first non-empty line ``program flag`` writes to stdout; "" when the program is
    absent, fails, or says nothing within ``timeout`` seconds."""
    if not program:
        return ""
    try:
        done = subprocess.run([program, flag], check=False, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        log.debug("%s %s: no version", program, flag, exc_info=True)
        return ""
    lines = [line.strip() for line in done.stdout.decode("utf-8", "replace").splitlines()]
    return next((line for line in lines if line), "")[:200] if done.returncode == 0 else ""


def chromium_path(config: Config) -> str | None:
    """``[browser] executable`` found (a path, or a name on PATH), else None; as
    ``Archive.chromium``, for ``doctor``, which opens no archive."""
    configured = config.browser.executable
    if "/" in configured:
        return configured if Path(configured).is_file() else None
    return shutil.which(configured) if configured else None


async def versions(config: Config, *, ffmpeg: str | None, chromium: str | None) -> Versions:
    """``chromium``: the Chromium the run uses (``Archive.chromium()``); not asked when
    ``[browser] enabled = false``."""
    yt_dlp_version = installed_yt_dlp()  # never imported here: workers.media
    chromium = chromium if config.browser.enabled else None
    ffmpeg_line, chromium_line = await asyncio.gather(
        asyncio.to_thread(first_line, ffmpeg, "-version"),
        asyncio.to_thread(first_line, chromium, "--version"))
    return Versions(preserver=__version__, yt_dlp=str(yt_dlp_version), ffmpeg=ffmpeg_line,
                    chromium=chromium_line, python=platform.python_version())


async def measure_collection(config: Config, *, ffmpeg: str | None,
                             chromium: str | None) -> CollectionRecord:
    """The run-level collection record; the three measurements run at once.

    ``ffmpeg``, ``chromium``: the programs the run uses (``Archive.ffmpeg()``,
    ``Archive.chromium()``), None when absent. A clock off by more than a second is
    logged as a warning.
    """
    address, clock, software = await asyncio.gather(
        ask_outside_address(config), measure_clock(config),
        versions(config, ffmpeg=ffmpeg, chromium=chromium))
    record = CollectionRecord(operator=config.operator, host=socket.gethostname(),
                              outside_address=address, clock=clock, versions=software)
    if (warning := record.clock_warning) is not None:
        log.warning("%s", warning)
    if config.collection.ip_echo_url and address.error:
        log.info("collection record: no outside address: %s", address.error)
    if clock.server and clock.error:
        log.info("collection record: clock not measured: %s", clock.error)
    return record


class RunCollection:
    """One capture run's record: measured once, from ``start`` (the run's first claim)
    on, while the first captures run; ``as_json`` waits for it (at most the timeouts)."""

    def __init__(self, config: Config, *, ffmpeg: str | None, chromium: str | None) -> None:
        self._config, self._ffmpeg, self._chromium = config, ffmpeg, chromium
        self._task: asyncio.Task[CollectionRecord] | None = None

    def start(self) -> asyncio.Task[CollectionRecord]:
        if self._task is None:  # a run that claims nothing never asks
            self._task = asyncio.create_task(measure_collection(
                self._config, ffmpeg=self._ffmpeg, chromium=self._chromium), name="collection")
        return self._task

    async def as_json(self) -> dict[str, Any]:
        """The record's JSON; shielded, so a cancelled recording leaves it to the others."""
        try:
            return (await asyncio.shield(self.start())).as_json()
        except Exception:  # a bug must not cost a capture its manifest: the rest is kept
            log.exception("collection record not measured")
            return {"operator": self._config.operator, "host": socket.gethostname()}

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
