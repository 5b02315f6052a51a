"""A client of the Internet Archive's Save Page Now 2 (SPN2) API: one URL in, one
snapshot out, or ``WitnessFailed`` saying why not.

The API (SPN2 public API docs, "Capture request" and "Status request"):

- ``POST <spn_url>`` with the form field ``url`` (and ``if_not_archived_within``),
  headers ``Accept: application/json`` and ``Authorization: LOW <access>:<secret>``,
  answers ``{"url": …, "job_id": …}``;
- ``GET <spn_url>/status/<job_id>`` answers ``{"status": "pending"}``, ``{"status":
  "success", "timestamp": "YYYYMMDDhhmmss", "original_url": …}`` or ``{"status":
  "error", "status_ext": "error:…", "message": …}``. A URL archived within
  ``if_not_archived_within`` is not captured again: the status names that recent
  snapshot, which is then the witness.

Everything the server says is bounded and checked before use: bodies are read up to
``MAX_BODY`` bytes, must be a JSON object, and a timestamp must be 14 digits of a real
time; polling stops after ``poll_timeout``. A 429 or 5xx, a refused connection, a
pending job and an unknown answer are transient; only the errors in ``PERMANENT`` end the
witness of a URL. The keys are read from the environment when needed and appear in no
message, repr or record. Requests go through the application's guarded client
(``preserver.net.http_client``), so a redirect to a private address is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from preserver.config import WitnessConfig
from preserver.errors import WitnessFailed
from workers import WorkerError

log = logging.getLogger(__name__)

ACCESS_ENV, SECRET_ENV = "PRESERVER_SPN_ACCESS_KEY", "PRESERVER_SPN_SECRET"
MAX_BODY = 256 * 1024  # an SPN2 answer is a few hundred bytes
MAX_RETRY_AFTER = 86400.0
SERVICE = "web.archive.org"
# status_ext values that will not change on a later try (SPN2 docs, "Error codes")
PERMANENT = frozenset({
    "error:bad-request", "error:blocked", "error:blocked-url", "error:blocked-client-ip",
    "error:filesize-limit", "error:ftp-access-denied", "error:invalid-host-resolution",
    "error:invalid-url", "error:method-not-allowed", "error:not-implemented",
    "error:too-many-redirects"})
_TIMESTAMP = re.compile(r"\d{14}")
_WORD = re.compile(r"[a-z0-9:._-]{1,64}")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class SpnKeys:
    """The account's S3-style keys. The secret is never shown (``repr`` hides it)."""

    access: str
    secret: str = field(repr=False)

    @property
    def authorization(self) -> str:
        return f"LOW {self.access}:{self.secret}"


def keys_from_env(env: Mapping[str, str]) -> SpnKeys:
    """The keys from ``PRESERVER_SPN_ACCESS_KEY`` and ``PRESERVER_SPN_SECRET``."""
    access, secret = env.get(ACCESS_ENV, "").strip(), env.get(SECRET_ENV, "").strip()
    if not access or not secret:
        raise WitnessFailed(f"no Save Page Now keys: set {ACCESS_ENV} and {SECRET_ENV} "
                            "(the keys of an archive.org account, archive.org/account/s3.php)")
    if any(c in access + secret for c in ":\r\n") or not (access + secret).isprintable():
        raise WitnessFailed(f"{ACCESS_ENV} or {SECRET_ENV} holds a character a key cannot "
                            "have (a colon, a line break, a control character)")
    return SpnKeys(access=access, secret=secret)


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """A snapshot the Archive holds: its Wayback URL and its time (UTC)."""

    url: str  # https://web.archive.org/web/<timestamp>/<original_url>
    time: datetime
    original_url: str
    job_id: str

    def as_details(self, requested: str) -> dict[str, str]:
        """The ``witness_saved`` event's details (docs/design.md "Independent witness")."""
        return {"service": SERVICE, "snapshot_url": self.url,
                "snapshot_time": self.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "original_url": self.original_url, "requested_url": requested,
                "job_id": self.job_id}


def wayback_url(base: str, timestamp: str, original: str) -> str:
    """``https://web.archive.org/web/<timestamp>/<original>`` for ``base`` the save URL's
    scheme and host."""
    return f"{base}/web/{timestamp}/{original}"


def timedelta_text(seconds: float) -> str:
    """A duration as SPN2's timedelta: ``"30d"``, ``"3d 5h 20m"``, ``"45s"``."""
    left, parts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts) or "0s"


def _origin(spn_url: str) -> str:
    url = httpx.URL(spn_url)
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def _seconds(value: str | None) -> float | None:
    """Retry-After in seconds (delta-seconds only; an HTTP date is ignored), bounded."""
    if value is None or not value.strip().isdigit() or len(value.strip()) > 9:
        return None
    return min(float(value.strip()), MAX_RETRY_AFTER)


def _short(text: object, limit: int = 200) -> str:
    """Server text for a message: printable, one line, bounded."""
    flat = "".join(c if c.isprintable() else " " for c in str(text))
    return flat[:limit] + ("…" if len(flat) > limit else "")


async def _request(http: httpx.AsyncClient, method: str, url: str, *, headers: dict[str, str],
                   data: dict[str, str] | None = None) -> dict[str, Any]:
    """One request; its JSON object answer, read up to ``MAX_BODY`` bytes."""
    try:
        async with http.stream(method, url, headers=headers, data=data) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    raise WitnessFailed(f"Save Page Now answered more than {MAX_BODY} bytes "
                                        f"(HTTP {response.status_code}); not SPN2's answer")
            status, retry_after = response.status_code, response.headers.get("retry-after")
    except (httpx.HTTPError, WorkerError) as exc:
        raise WitnessFailed(f"Save Page Now unreachable: {_short(exc) or type(exc).__name__}"
                            ) from exc
    if status == 429:
        raise WitnessFailed("Save Page Now: too many requests (HTTP 429)",
                            retry_after=_seconds(retry_after))
    if status in (401, 403):
        raise WitnessFailed(f"Save Page Now refused the keys (HTTP {status}): check "
                            f"{ACCESS_ENV} and {SECRET_ENV}")
    if status >= 300:
        raise WitnessFailed(f"Save Page Now answered HTTP {status}",
                            retry_after=_seconds(retry_after))
    try:
        answer = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise WitnessFailed(f"Save Page Now's answer is not JSON (HTTP {status}, "
                            f"{len(body)} bytes)") from exc
    if not isinstance(answer, dict):
        raise WitnessFailed("Save Page Now's answer is not a JSON object")
    return answer


def job_id_of(answer: dict[str, Any]) -> str:
    """The capture request's job id; SPN2 says why when it gives none."""
    job_id = answer.get("job_id")
    if isinstance(job_id, str) and _WORD.fullmatch(job_id):
        return job_id
    if isinstance(answer.get("message"), str):
        raise WitnessFailed(f"Save Page Now did not start a capture: {_short(answer['message'])}")
    raise WitnessFailed("Save Page Now's answer has no usable job_id")


def snapshot_of(answer: dict[str, Any], *, base: str, job_id: str) -> Snapshot | None:
    """The status answer's snapshot; None while the job is pending."""
    status = answer.get("status")
    if status == "pending":
        return None
    if status == "error":
        ext = answer.get("status_ext")
        ext = ext if isinstance(ext, str) and _WORD.fullmatch(ext) else "error"
        raise WitnessFailed(f"Save Page Now: {ext}: {_short(answer.get('message', ''))}",
                            transient=ext not in PERMANENT)
    if status != "success":
        raise WitnessFailed(f"Save Page Now: unknown job status {_short(status, 40)!r}")
    timestamp, original = answer.get("timestamp"), answer.get("original_url")
    if not isinstance(timestamp, str) or not _TIMESTAMP.fullmatch(timestamp):
        raise WitnessFailed("Save Page Now: success without a 14-digit timestamp")
    if not isinstance(original, str) or not original.startswith(("http://", "https://")) \
            or len(original) > 8192 or not original.isprintable() or " " in original:
        raise WitnessFailed("Save Page Now: success without a usable original_url")
    try:
        time = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise WitnessFailed(f"Save Page Now: timestamp {timestamp} is not a time") from exc
    return Snapshot(url=wayback_url(base, timestamp, original), time=time,
                    original_url=original, job_id=job_id)


async def save(http: httpx.AsyncClient, config: WitnessConfig, keys: SpnKeys, url: str, *,
               sleep: Sleep = asyncio.sleep) -> Snapshot:
    """Ask Save Page Now to capture ``url`` and wait (bounded) for its snapshot."""
    headers = {"Accept": "application/json", "Authorization": keys.authorization}
    form = {"url": url}
    if config.if_not_archived_within > 0:
        form["if_not_archived_within"] = timedelta_text(config.if_not_archived_within)
    job_id = job_id_of(await _request(http, "POST", config.spn_url, headers=headers, data=form))
    base = _origin(config.spn_url)
    status_url = f"{config.spn_url.rstrip('/')}/status/{job_id}"
    waited = 0.0
    while True:
        await sleep(config.poll_interval)
        waited += config.poll_interval
        snapshot = snapshot_of(await _request(http, "GET", status_url, headers=headers),
                               base=base, job_id=job_id)
        if snapshot is not None:
            return snapshot
        if waited >= config.poll_timeout:
            raise WitnessFailed(f"Save Page Now job {job_id} still pending after "
                                f"{config.poll_timeout:.0f} s")
